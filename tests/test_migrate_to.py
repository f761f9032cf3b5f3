"""``python -m bot migrate-to URL``: a populated SQLite shop, built through the real services, lands in
PostgreSQL row for row, its identities continue past the copied ids, and the audit on the copy is clean.

PostgreSQL pass only (``TEST_BACKEND=postgresql``, the ``postgres`` marker): it needs a server.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.money.audit import Audit
from bot.money.pricing import Pricing
from bot.money.promos import Promos
from bot.money.referrals import Binding, Referrals
from bot.money.stars import Payments
from bot.operator.prices import PriceAdmin
from bot.orders.actions import OrderActions
from bot.orders.favourites import Favourites
from bot.orders.outcomes import Outcome
from bot.orders.tracking import Tracker
from bot.settings import Settings
from providers.catalog import Catalog
from providers.demo import DemoProvider
from storage import broadcasts
from storage.copy import NOT_COPIED
from storage.database_file import hold_database_lock
from storage.db import Database
from storage.orders import OrderStatus
from storage.postgres import PostgresDatabase
from storage.purchases import Outcome as Spent
from tests import backend
from tests.conftest import TOKEN, add_user
from tests.order_services import order_service
from tests.upstreams import COUNTRY, SERVICE, build_world

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not backend.ON_POSTGRES, reason="the PostgreSQL pass runs it (TEST_BACKEND=postgresql)"),
]

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Pw-" + uuid.uuid4().hex[:12]  # the test server trusts local connections: any password gets in
INVITER, INVITEE, BUYER, ADMIN = 9_000, 100, 500, 1  # the inviter's id sorts after the invitee's
MINUTES = timedelta(minutes=20)


async def _shop(path: Path, settings: Settings) -> None:
    """Users with top-ups, Stars and a promo; orders completed, refunded, written off, kept and open; a
    referral bonus, a favourite, a price override, a broadcast."""
    db = await Database.open(path)
    try:
        orders = order_service(db, Catalog([DemoProvider(sms_delay_seconds=0)]), Pricing(settings), MINUTES)
        referrals = Referrals(db, 5)
        tracker = Tracker(orders, OrderActions(orders, referrals), concurrency=4)
        await add_user(db, INVITER, balance=300)
        await add_user(db, INVITEE)
        assert await referrals.bind(INVITEE, INVITER) is Binding.BOUND
        stars = Payments(db, [50, 100, 250], rate=1)
        await stars.credit(user_id=INVITEE, charge_id="ch-1", payload="stars:250", currency="XTR", total_amount=250)
        await Promos(db).create(admin_id=ADMIN, code="HELLO", amount=100, max_uses=3)
        await Promos(db).redeem(INVITEE, "hello")

        async def place(user: int, key: str) -> int:
            result = await orders.place(
                user_id=user, chat_id=user, request_key=key, country="US", service="whatsapp", confirmed=10_000
            )
            assert result.order is not None
            return result.order.id

        done = await place(INVITEE, "a")
        refunded = await place(INVITEE, "b")
        assert (await tracker.actions.cancel(refunded, INVITEE)).order.status is OrderStatus.CANCELLED
        assert [o.id for o in await tracker.poll_all()] == [done]  # the demo's code at once
        assert (await tracker.actions.finish(done, INVITEE)).status is OrderStatus.COMPLETED  # the referral bonus
        await place(INVITER, "open")
        await Favourites(db, orders).set(INVITEE, "whatsapp", "US", True)
        await PriceAdmin(db, Pricing(settings)).set_price(ADMIN, "telegram", "US", 77)

        world = build_world(db, settings, step="0.01", upstreams=("simsmsbox",), box_price="0.19", box_stock=50)
        try:
            await add_user(db, BUYER, balance=5_000)
            quote = await world.orders.quote(COUNTRY, SERVICE)
            assert quote is not None
            written_off = await world.place(BUYER, "w1", quote.price)
            cancel = await world.tracker.actions.cancel(written_off.order.id, BUYER)
            assert cancel.outcome is Outcome.CANCELLED  # the upstream keeps the money: the shop bears it
            async with db.read() as conn:
                async with conn.execute(
                    "SELECT outcome FROM upstream_purchases WHERE order_id = ?", (cancel.order.id,)
                ) as cur:
                    assert (await cur.fetchone())[0] == Spent.WRITTEN_OFF
        finally:
            await world.close()
        async with db.transaction() as conn:
            await broadcasts.create(
                conn, admin_id=ADMIN, from_chat_id=ADMIN, message_id=7, button=None, audience="all", progress=(ADMIN, 8)
            )
    finally:
        await db.close()


def _with_password(url: str) -> str:
    parts = urlsplit(url)
    user = parts.username or "postgres"
    return urlunsplit(parts._replace(netloc=f"{user}:{PASSWORD}@{parts.hostname}:{parts.port}"))


async def _run(source: Path, url: str) -> tuple[int, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_")) and not k.endswith("_API_KEY")
    }
    env.update(PYTHONPATH=str(ROOT), BOT_TOKEN=TOKEN, DATABASE_PATH=str(source), LOG_LEVEL="INFO")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "migrate-to", url,
        cwd=source.parent, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 300)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _sqlite_rows(path: Path) -> dict[str, tuple[list[str], list[tuple[object, ...]]]]:
    db = await Database.open(path)
    try:
        tables: dict[str, tuple[list[str], list[tuple[object, ...]]]] = {}
        async with db.read() as conn:
            async with conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ) as cur:
                names = [r[0] for r in await cur.fetchall() if r[0] not in NOT_COPIED]
            for name in names:
                async with conn.execute(f"SELECT * FROM {name}") as cur:
                    columns = [d[0] for d in cur.description]
                    tables[name] = (columns, sorted((tuple(r) for r in await cur.fetchall()), key=repr))
        return tables
    finally:
        await db.close()


async def test_a_populated_shop_moves_row_for_row_and_audits_clean(
    tmp_path: Path, settings: Settings, bare_database: str
) -> None:
    source = tmp_path / "shop.sqlite3"
    await _shop(source, settings)
    expected = await _sqlite_rows(source)
    for table in ("users", "orders", "ledger", "payments", "promo_uses", "broadcasts", "broadcast_recipients",
                  "upstream_purchases", "order_sms", "favourites", "price_overrides", "admin_log"):  # fmt: skip
        assert expected[table][1], f"the shop built has no {table} rows: the test would prove nothing there"

    status, out = await _run(source, _with_password(bare_database))
    assert status == 0, out
    assert PASSWORD not in out and ":***@" in out
    assert "audit: ok" in out and "FAILED" not in out

    copy = await PostgresDatabase.open(bare_database, pool_size=2)
    try:
        async with copy.read() as conn:
            for table, (columns, rows) in expected.items():
                got = await conn.execute_fetchall(f"SELECT {', '.join(columns)} FROM {table}")
                assert sorted((tuple(r) for r in got), key=repr) == rows, table
            referrer = await conn.execute_fetchall("SELECT referrer_id FROM users WHERE id = ?", (INVITEE,))
            assert referrer[0][0] == INVITER
        async with copy.transaction() as conn:  # nextval writes: not in a read-only read block
            for table in ("orders", "ledger"):  # the next id continues past the copied ones
                largest = max(row[0] for row in expected[table][1])
                upcoming = await conn.execute_fetchall(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))")
                assert upcoming[0][0] == largest + 1, table
        report = await Audit(copy, Pricing(settings)).run()  # type: ignore[arg-type]
        assert report.ok, report.issues
        assert report.money.orders >= 1 and report.money.written_off.count == 1
    finally:
        await copy.close()


async def test_a_target_with_data_is_refused_and_left_as_it_was(tmp_path: Path, settings: Settings) -> None:
    source = tmp_path / "shop.sqlite3"
    db = await Database.open(source)
    await add_user(db, BUYER, balance=250)
    await db.close()
    url = await backend.create_database()
    try:
        target = await PostgresDatabase.open(url, pool_size=2)
        await add_user(target, 42, balance=10)  # type: ignore[arg-type]
        status, out = await _run(source, _with_password(url))
        assert status == 2, out
        assert "already holds data" in out and "users" in out and PASSWORD not in out
        async with target.read() as conn:
            assert [tuple(r) for r in await conn.execute_fetchall("SELECT id, balance FROM users")] == [(42, 10)]
            assert (await conn.execute_fetchall("SELECT COUNT(*) FROM ledger"))[0][0] == 1
        await target.close()
    finally:
        await backend.drop_database(url)


async def test_refused_while_a_bot_runs_on_the_file(tmp_path: Path) -> None:
    source = tmp_path / "shop.sqlite3"
    db = await Database.open(source)
    await db.close()
    lock = hold_database_lock(source)  # what a running bot holds
    try:
        status, out = await _run(source, "postgresql://postgres:" + PASSWORD + "@127.0.0.1:9/none")
    finally:
        lock.close()
    assert status == 2 and "a bot is running" in out and PASSWORD not in out


async def test_a_row_postgresql_cannot_hold_fails_the_copy_and_writes_nothing(
    tmp_path: Path, bare_database: str
) -> None:
    source = tmp_path / "shop.sqlite3"
    db = await Database.open(source)
    await add_user(db, BUYER, balance=250)
    async with db.transaction() as conn:  # SQLite keeps text in an integer column; PostgreSQL cannot
        await conn.execute("UPDATE users SET is_banned = 'no' WHERE id = ?", (BUYER,))
    await db.close()
    status, out = await _run(source, _with_password(bare_database))
    assert status == 1, out
    assert "users row 1, column is_banned" in out and "nothing was written" in out
    copy = await PostgresDatabase.open(bare_database, pool_size=2)
    try:
        async with copy.read() as conn:
            for table in ("users", "ledger", "admin_log"):
                assert (await conn.execute_fetchall(f"SELECT COUNT(*) FROM {table}"))[0][0] == 0, table
    finally:
        await copy.close()
