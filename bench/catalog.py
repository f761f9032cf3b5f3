"""Catalog and routing overhead: 6 upstreams x 150 countries x 60 services, served from cache.

Prints medians of: the full catalog merged and priced (what the country list needs), one
country's quotes (the services screen), and a purchase's routing overhead (quote, reserve
transaction, buy from an instant upstream, activation transaction), against a 100 ms budget for
a tap to feel instant.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.common import median, report
from bot.money.pricing import Pricing
from bot.settings import Settings
from providers.base import Offer, Purchase
from providers.catalog import Catalog
from providers.names import SERVICE_NAMES
from providers.normalize import SMSACTIVATE_COUNTRIES
from storage import users
from storage.db import Database
from tests.fakes.idle_upstream import IdleUpstream
from tests.order_services import order_service

UPSTREAMS, COUNTRIES, SERVICES, RUNS = 6, 150, 60, 30
BUDGET_S = 0.1


class Instant(IdleUpstream):
    """An upstream answering at once, with a full catalog priced differently per upstream."""

    def __init__(self, index: int) -> None:
        self.name = f"up{index}"
        countries = sorted(set(SMSACTIVATE_COUNTRIES.values()))[:COUNTRIES]
        services = [*SERVICE_NAMES, *(f"svc{i}" for i in range(SERVICES))][:SERVICES]
        self._offers = [
            Offer(self.name, s, c, 20 + (hash((index, s, c)) % 50), "USD", 100, product_id=f"{s}|{c}")
            for c in countries
            for s in services
        ]
        self.sold = 0

    async def offers(self, country: str | None = None) -> list[Offer]:
        return self._offers

    async def buy(self, offer: Offer) -> Purchase:
        self.sold += 1
        return Purchase(f"{self.name}-{self.sold}", "+10000000000")


def timed(samples: list[float], started: float) -> None:
    samples.append(time.perf_counter() - started)


async def main() -> None:
    settings = Settings(_env_file=None, bot_token="1:bench")  # type: ignore[call-arg]
    catalog = Catalog([Instant(i) for i in range(UPSTREAMS)], ttl=3600)
    pricing = Pricing(settings)
    await catalog.offers()  # warm the cache: the figures are for cached reads
    full, country, place = [], [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        pricing.quotes(await catalog.offers())
        timed(full, started)
        started = time.perf_counter()
        pricing.quotes(await catalog.offers(country="ID"))
        timed(country, started)
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "bench.sqlite3")
        async with db.transaction() as conn:
            await users.upsert(conn, 1, None, "bench", "en")
            await conn.execute("UPDATE users SET balance = 1000000000 WHERE id = 1")
        orders = order_service(db, catalog, pricing, timedelta(minutes=20))
        for i in range(RUNS):
            started = time.perf_counter()
            await orders.place(
                user_id=1, chat_id=1, request_key=f"k{i}", country="ID", service="whatsapp", confirmed=10**6
            )
            timed(place, started)
        await db.close()
    timings = {"full_catalog_priced": full, "one_country": country, "purchase_routing": place}
    medians_ms = {f"{what}_ms": f"{median(samples) * 1000:.1f}" for what, samples in timings.items()}
    budget_ratio = f"{max(median(country), median(place)) / BUDGET_S:.2f}"
    report("catalog", offers=UPSTREAMS * COUNTRIES * SERVICES, **medians_ms, ratio_to_100ms_budget=budget_ratio)


if __name__ == "__main__":
    asyncio.run(main())
