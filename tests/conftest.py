"""Shared fixtures: a fresh database per test and settings that never reach the network."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
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
from storage.backends import Store, open_store
from storage.db import Database
from storage.orders import Order
from tests import backend
from tests.botproc import BotProcess
from tests.fakes.telegram import FakeTelegram
from tests.order_services import order_service

TOKEN = "123456:TEST-TOKEN"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL (TEST_BACKEND=postgresql), only the tests marked ``postgres`` run."""
    if backend.ON_POSTGRES:
        keep = [item for item in items if item.get_closest_marker("postgres")]
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


@pytest.fixture
async def database_url() -> AsyncIterator[str | None]:
    """A fresh PostgreSQL database's URL on PostgreSQL (dropped after the test); None on SQLite."""
    if not backend.ON_POSTGRES:
        yield None
        return
    url = await backend.create_database()
    yield url
    await backend.drop_database(url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(
        _env_file=None,
        bot_token=TOKEN,
        database_path=tmp_path / "bot.sqlite3",
        database_url=database_url,
        telegram_api_url="http://127.0.0.1:9",
        markup_percent=30,
        admin_ids="1",
    )  # type: ignore[call-arg]


@pytest.fixture
async def db(tmp_path: Path, database_url: str | None) -> AsyncIterator[Store]:
    """The test's own database: SQLite in tmp_path, or (TEST_BACKEND=postgresql) the fresh PostgreSQL one."""
    database = await open_store(tmp_path / "test.sqlite3", database_url)
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
    if backend.ON_POSTGRES and "DATABASE_URL" not in env:
        defaults["DATABASE_URL"] = bot_database_url(tmp_path)
    return BotProcess(tmp_path / "run", **(defaults | env))


_BOT_DATABASES: dict[Path, str] = {}


def bot_database_url(tmp_path: Path) -> str:
    """The PostgreSQL database of the bot processes of the test that owns ``tmp_path`` (made on first use,
    dropped at the end of the session)."""
    if tmp_path not in _BOT_DATABASES:
        _BOT_DATABASES[tmp_path] = backend.create_database_sync()
    return _BOT_DATABASES[tmp_path]


async def open_bot_db(tmp_path: Path) -> Store:
    """The database :func:`bot_process` gave the bot of this test: the SQLite file, or its PostgreSQL one."""
    url = bot_database_url(tmp_path) if backend.ON_POSTGRES else None
    return await open_store(tmp_path / "bot.sqlite3", url)


async def bot_rows(tmp_path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of the bot's database (SQLite or PostgreSQL, as the test's backend gave the bot)."""
    db = await open_bot_db(tmp_path)
    try:
        async with db.read() as conn:
            return [tuple(row) for row in await conn.execute_fetchall(sql, params)]
    finally:
        await db.close()


@pytest.fixture
async def bare_database() -> AsyncIterator[str]:
    """An empty PostgreSQL database with no schema at all (migrate-to and its checks migrate it), dropped
    after the test."""
    name = "t_bare_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(backend.SERVER_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = backend.url_of(name)
    yield url
    await backend.drop_database(url)


@pytest.fixture(scope="session", autouse=True)
def _drop_bot_databases() -> Iterator[None]:
    yield
    for url in _BOT_DATABASES.values():
        backend.drop_database_sync(url)


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
