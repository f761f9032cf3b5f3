"""The poll job over 10,000 active orders against an upstream answering in 50 ms.

Goal: one cycle well inside ``POLL_INTERVAL_SECONDS`` (ratio < 1), with the chosen per-provider
concurrency. The upstream is an in-process provider that sleeps 50 ms per check and delivers an
SMS to 1 % of the orders each cycle, so the cycle includes storing and reading SMS.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import median, report
from bot.money.pricing import Pricing
from bot.orders.actions import OrderActions
from bot.orders.tracking import Tracker
from bot.settings import Settings
from providers.base import Offer, Purchase, Sms, Status, UpstreamState
from providers.catalog import Catalog
from storage.db import Database
from storage.orders import iso
from tests.fakes.idle_upstream import IdleUpstream
from tests.order_services import order_service

ORDERS = 10_000
LATENCY = 0.05
CONCURRENCY = 250
CYCLES = 3


class SlowUpstream(IdleUpstream):
    name = "slow"

    def __init__(self) -> None:
        self.cycle = 0

    async def offers(self, country: str | None = None) -> list[Offer]:
        return []

    async def buy(self, offer: Offer) -> Purchase:
        raise NotImplementedError

    async def check(self, upstream_id: str) -> Status:
        await asyncio.sleep(LATENCY)
        if hash((upstream_id, self.cycle)) % 100 == 0:
            return Status(UpstreamState.RECEIVED, (Sms(f"Your code is {int(upstream_id) % 900000 + 100000}"),))
        return Status(UpstreamState.WAITING)


async def seed(db: Database) -> None:
    expires = iso(datetime.now(UTC) + timedelta(hours=1))
    async with db.transaction() as conn:
        await conn.executemany("INSERT INTO users (id, balance) VALUES (?, 0)", [(i,) for i in range(1, ORDERS + 1)])
        await conn.executemany(
            "INSERT INTO orders (user_id, request_key, status, provider, upstream_id, phone, country, service,"
            " price, expires_at) VALUES (?, ?, 'active', 'slow', ?, '+10000000000', 'US', 'whatsapp', 50, ?)",
            [(i, f"k{i}", str(i), expires) for i in range(1, ORDERS + 1)],
        )


async def main() -> None:
    settings = Settings(_env_file=None, bot_token="1:bench")  # type: ignore[call-arg]
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "bench.sqlite3")
        await seed(db)
        upstream = SlowUpstream()
        orders = order_service(db, Catalog([upstream]), Pricing(settings), timedelta(minutes=20))
        tracker = Tracker(orders, OrderActions(orders), CONCURRENCY)
        times, changed = [], 0
        for cycle in range(CYCLES):
            upstream.cycle = cycle
            started = time.perf_counter()
            changed += len(await tracker.poll_all())
            times.append(time.perf_counter() - started)
        await db.close()
    cycle_time = median(times)
    floor = ORDERS * LATENCY / CONCURRENCY
    report(
        "poll cycle",
        orders=ORDERS,
        upstream_latency_ms=int(LATENCY * 1000),
        concurrency=CONCURRENCY,
        cycle_s=f"{cycle_time:.2f}",
        latency_floor_s=f"{floor:.2f}",
        interval_s=settings.poll_interval_seconds,
        ratio_to_interval=f"{cycle_time / settings.poll_interval_seconds:.2f}",
        sms_recorded=changed,
    )
