"""Shared fixtures: a fresh database per test and settings that never reach the network."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.money.billing import Billing
from bot.money.pricing import Pricing
from bot.orders.actions import OrderActions
from bot.orders.placing import OrderService
from bot.orders.tracking import Tracker
from bot.settings import Settings
from providers.catalog import Catalog
from providers.demo import DemoProvider
from storage import users
from storage.db import Database

TOKEN = "123456:TEST-TOKEN"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        bot_token=TOKEN,
        database_path=tmp_path / "bot.sqlite3",
        telegram_api_url="http://127.0.0.1:9",
        markup_percent=30,
        admin_ids="1",
    )  # type: ignore[call-arg]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "test.sqlite3")
    yield database
    await database.close()


async def add_user(db: Database, user_id: int, balance: int = 0) -> None:
    async with db.transaction() as conn:
        await users.upsert(conn, user_id, f"u{user_id}", "Test", "en")
    if balance:
        await Billing(db, "USD").admin_adjust(
            admin_id=1, user_id=user_id, amount=balance, reason="test", reference=f"seed:{user_id}"
        )


@pytest.fixture
def demo() -> DemoProvider:
    return DemoProvider(sms_delay_seconds=0)


@pytest.fixture
def services(db: Database, settings: Settings, demo: DemoProvider) -> tuple[OrderService, Tracker, Billing]:
    orders = OrderService(db, Catalog([demo]), Pricing(settings), timedelta(minutes=20))
    return orders, Tracker(OrderActions(orders), concurrency=4), Billing(db, "USD")
