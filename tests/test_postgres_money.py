"""The money rules hold in the database itself, on both backends (run it with TEST_BACKEND=postgresql too).

Each rule is tried with raw SQL, past the services, so what refuses is the schema (a CHECK, a UNIQUE index,
a trigger), not Python; and one user's balance is charged at once by the real OrderService running on
several stores of one PostgreSQL database (separate pools: separate replicas), where only the database's
locks keep it from paying more than it holds.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from bot.money.billing import Billing
from bot.money.pricing import Pricing
from bot.orders.outcomes import Outcome
from bot.settings import Settings
from providers.catalog import Catalog
from providers.demo import DemoProvider
from storage import ledger
from storage.backends import Store, open_store
from tests import backend
from tests.conftest import add_user
from tests.order_services import order_service

pytestmark = pytest.mark.postgres

PRICE = 59  # US whatsapp: demo cost 45 + 30 % markup, rounded up
USER = 70


async def _balance(db: Store, user_id: int = USER) -> int:
    async with db.read() as conn:
        async with conn.execute("SELECT balance FROM users WHERE id = ?", (user_id,)) as cur:
            row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _references(db: Store, user_id: int = USER) -> list[str]:
    async with db.read() as conn:
        rows = await conn.execute_fetchall("SELECT reference FROM ledger WHERE user_id = ? ORDER BY id", (user_id,))
    return [row[0] for row in rows]


async def test_the_schema_refuses_a_negative_balance(db: Store) -> None:
    await add_user(db, USER, balance=10)
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:
            await conn.execute("UPDATE users SET balance = balance - 11 WHERE id = ?", (USER,))
    assert await _balance(db) == 10
    async with db.transaction() as conn:  # down to zero is allowed
        await conn.execute("UPDATE users SET balance = balance - 10 WHERE id = ?", (USER,))
    assert await _balance(db) == 0


async def test_a_duplicate_ledger_reference_is_refused_and_its_transaction_leaves_nothing(db: Store) -> None:
    await add_user(db, USER)
    insert = "INSERT INTO ledger (user_id, amount, balance_after, kind, reference) VALUES (?, ?, ?, 'topup', 'pay:1')"
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET balance = balance + 5 WHERE id = ?", (USER,))
        await conn.execute(insert, (USER, 5, 5))
    with pytest.raises(sqlite3.IntegrityError):
        async with db.transaction() as conn:  # a replayed credit written past ledger.post's check
            await conn.execute("UPDATE users SET balance = balance + 5 WHERE id = ?", (USER,))
            await conn.execute(insert, (USER, 5, 10))
    assert await _balance(db) == 5  # the balance change of the refused transaction rolled back with it
    assert await _references(db) == ["pay:1"]
    assert await Billing(db, "USD").reconcile() == []


@pytest.mark.parametrize(
    "sql",
    ["UPDATE ledger SET amount = amount + 1", "UPDATE ledger SET reference = 'other'", "DELETE FROM ledger"],
)
async def test_the_ledger_refuses_update_and_delete(db: Store, sql: str) -> None:
    await add_user(db, USER, balance=25)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        async with db.transaction() as conn:
            await conn.execute(sql)
    async with db.read() as conn:
        rows = await conn.execute_fetchall("SELECT amount, reference FROM ledger WHERE user_id = ?", (USER,))
    assert [tuple(row) for row in rows] == [(25, f"seed:{USER}")]


async def _replicas(tmp_path: Path, database_url: str | None, count: int) -> list[Store]:
    """``count`` stores on the test's PostgreSQL database, each with its own small pool; on SQLite the one
    file, once (a second process may not open it)."""
    if database_url is None:
        return [await open_store(tmp_path / "test.sqlite3")]
    return [await open_store(tmp_path / "unused", database_url, pool_size=4) for _ in range(count)]


async def test_fifty_confirms_over_three_replicas_charge_a_balance_for_three_exactly_three_times(
    tmp_path: Path, database_url: str | None, settings: Settings
) -> None:
    stores = await _replicas(tmp_path, database_url, 3)
    try:
        if backend.ON_POSTGRES:
            assert len({id(store) for store in stores}) == 3
        await add_user(stores[0], USER, balance=3 * PRICE)
        services = [
            order_service(store, Catalog([DemoProvider(sms_delay_seconds=0)]), Pricing(settings), timedelta(minutes=20))
            for store in stores
        ]
        results = await asyncio.gather(
            *(
                services[n % len(services)].place(
                    user_id=USER, chat_id=USER, request_key=f"k{n}", country="US", service="whatsapp", confirmed=PRICE
                )
                for n in range(50)
            )
        )
        outcomes = [result.outcome for result in results]
        assert outcomes.count(Outcome.PLACED) == 3, outcomes
        assert outcomes.count(Outcome.INSUFFICIENT) == 47, outcomes
        db = stores[-1]  # another replica than the one that credited: it sees the same books
        assert await _balance(db) == 0
        placed = sorted(result.order.id for result in results if result.order is not None)
        charges = [ref for ref in await _references(db) if ref.endswith(":charge")]
        assert sorted(charges) == sorted(f"order:{order_id}:charge" for order_id in placed)
        async with db.read() as conn:
            assert await ledger.discrepancies(conn) == []
    finally:
        for store in stores:
            await store.close()
