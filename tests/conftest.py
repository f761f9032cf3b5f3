"""Shared fixtures: a fresh database per test and settings that never reach the network."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot.money.billing import Billing
from bot.money.pricing import Pricing
from bot.orders.actions import OrderActions
from bot.orders.placing import OrderService
from bot.orders.tracking import Tracker
from bot.settings import Settings
from providers.catalog import Catalog
from providers.demo import DemoProvider
from storage import ledger, users
from storage import orders as order_rows
from storage.db import Database
from storage.orders import Order
from tests.botproc import BotProcess
from tests.fakes.telegram import FakeTelegram
from tests.order_services import order_service

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


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A fake Telegram Bot API on a local port that knows the bot's token."""
    async with FakeTelegram(token=TOKEN) as server:
        yield server


def bot_process(fake: FakeTelegram, tmp_path: Path, **env: str) -> BotProcess:
    """The real bot as a child process against ``fake``, selling from the demo upstream, its database in
    ``tmp_path``; ``env`` adds settings or overrides these."""
    defaults = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.url,
        "DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
        "DEMO_PROVIDER": "on",
    }
    return BotProcess(tmp_path / "run", **(defaults | env))


def free_port() -> int:
    """A local TCP port nothing listens on (for the bot's health server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def charged_order(conn: aiosqlite.Connection, *, user_id: int, price: int, **columns: Any) -> Order:
    """An order row and its charge, as OrderService.place writes them before it asks the upstream: what a crash
    at that point leaves behind. ``columns`` are the order's other columns."""
    order = await order_rows.create(conn, user_id=user_id, price=price, chat_id=user_id, **columns)
    charge = f"order:{order.id}:charge"
    await ledger.post(conn, user_id=user_id, amount=-price, kind="purchase", reference=charge, order_id=order.id)
    return order


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
    orders = order_service(db, Catalog([demo]), Pricing(settings), timedelta(minutes=20))
    return orders, Tracker(orders, OrderActions(orders), concurrency=4), Billing(db, "USD")
