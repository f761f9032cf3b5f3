"""What durable money writes cost: purchases per second with ``synchronous=FULL`` against ``NORMAL``.

The bot runs WAL with ``synchronous=FULL`` (``storage/db.py``): the WAL is synced at every commit,
so a committed charge or credit survives a power loss. ``NORMAL`` syncs only at checkpoints and can
lose the last commits. Each purchase goes through the real path, ``OrderService.place`` against the
demo upstream answering at once: the quote, the reserve transaction (order and charge), the buy and
the activation transaction, one user per purchase (seeded with ``Billing.admin_adjust``), one after
another as the confirmations of a busy bot would be.

Each mode has its own fresh file database; batches alternate FULL and NORMAL, so load and disk
noise hit both alike.
Figures: purchases per second with each, and the ratio FULL/NORMAL (1.0 = durability is free).
The database lives in ``BENCH_DURABILITY_DIR`` (default: the system temp folder); fsync costs what
the disk under it costs, so point it at the disk the bot's database lives on (tmpfs makes it free).
``BENCH_DURABILITY_PURCHASES`` sets the purchases per mode (default 160, at most 1000: demo stock).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.common import report
from bot.money.billing import Billing
from bot.money.pricing import Pricing
from bot.orders.outcomes import Outcome
from bot.settings import Settings
from providers.catalog import Catalog
from providers.demo import DemoProvider
from storage import users
from storage.db import Database
from tests.order_services import order_service

PURCHASES = min(int(os.environ.get("BENCH_DURABILITY_PURCHASES", "160")), 1000)  # per mode
BATCHES = 8  # alternating FULL and NORMAL batches, so load and disk noise hit both alike
WARMUP = 10
BALANCE = 1_000_000  # minor units per user, far above any demo price
SERVICES = ("whatsapp", "telegram", "google", "shopee")  # the demo sells 1,450 numbers in ID across these
MODES = ("FULL", "NORMAL")


async def pragma_synchronous(db: Database, mode: str) -> None:
    async with db.read() as conn:
        await conn.execute(f"PRAGMA synchronous={mode}")
        row = await (await conn.execute("PRAGMA synchronous")).fetchone()
    assert row is not None and row[0] == {"OFF": 0, "NORMAL": 1, "FULL": 2}[mode], (mode, row)


async def seed(db: Database, count: int) -> None:
    """``count`` users with a balance, written unsynced: the set-up is not what is measured."""
    await pragma_synchronous(db, "OFF")
    async with db.transaction() as conn:
        for user_id in range(1, count + 1):
            await users.upsert(conn, user_id, None, "bench", "en")
    billing = Billing(db, "USD")
    for user_id in range(1, count + 1):
        await billing.admin_adjust(admin_id=1, user_id=user_id, amount=BALANCE, reason="bench", reference=f"b{user_id}")


class Shop:
    """One file database with ``synchronous=mode`` and the real order service on top of it."""

    def __init__(self, db: Database, settings: Settings, mode: str) -> None:
        self.db, self.mode, self.next_user = db, mode, 1
        self.catalog = Catalog([DemoProvider(sms_delay_seconds=0)])
        self.orders = order_service(db, self.catalog, Pricing(settings), timedelta(minutes=20))
        self.seconds = 0.0

    @classmethod
    async def open(cls, folder: Path, settings: Settings, mode: str) -> Shop:
        db = await Database.open(folder / f"{mode.lower()}.sqlite3")  # FULL, as the bot opens it
        await seed(db, WARMUP + PURCHASES)
        await pragma_synchronous(db, mode)
        shop = cls(db, settings, mode)
        await shop.buy(WARMUP)
        return shop

    async def buy(self, count: int) -> float:
        """``count`` purchases, each by its own user (per-user limits never interfere); seconds taken."""
        started = time.perf_counter()
        for user_id in range(self.next_user, self.next_user + count):
            result = await self.orders.place(
                user_id=user_id,
                chat_id=user_id,
                request_key=f"bench:{user_id}",
                country="ID",
                service=SERVICES[user_id % len(SERVICES)],
                confirmed=BALANCE,
            )
            assert result.outcome is Outcome.PLACED, (self.mode, user_id, result.outcome)
        self.next_user += count
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.catalog.close()
        await self.db.close()


async def main() -> None:
    settings = Settings(_env_file=None, bot_token="1:bench")  # type: ignore[call-arg]
    parent = os.environ.get("BENCH_DURABILITY_DIR") or None
    batch = max(PURCHASES // BATCHES, 1)
    with tempfile.TemporaryDirectory(dir=parent) as tmp:
        shops = [await Shop.open(Path(tmp), settings, mode) for mode in MODES]
        try:
            for number in range(BATCHES):
                for shop in shops if number % 2 == 0 else reversed(shops):
                    shop.seconds += await shop.buy(batch)
        finally:
            for shop in shops:
                await shop.close()
    rate = {shop.mode: batch * BATCHES / shop.seconds for shop in shops}
    report(
        "durability",
        purchases_per_mode=batch * BATCHES,
        folder=parent or tempfile.gettempdir(),
        full_purchases_per_s=f"{rate['FULL']:.0f}",
        normal_purchases_per_s=f"{rate['NORMAL']:.0f}",
        full_ms_per_purchase=f"{1000 / rate['FULL']:.2f}",
        normal_ms_per_purchase=f"{1000 / rate['NORMAL']:.2f}",
        ratio_full_to_normal=f"{rate['FULL'] / rate['NORMAL']:.2f}",
    )


if __name__ == "__main__":
    asyncio.run(main())
