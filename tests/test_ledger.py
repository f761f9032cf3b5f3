"""The ledger: credits, debits, refunds exactly once, never negative, balance equals the sum."""

from __future__ import annotations

import sqlite3

import pytest

from storage import ledger, users
from storage.db import Database
from tests.conftest import add_user

pytestmark = pytest.mark.postgres


async def test_credit_then_debit_updates_balance_and_rows(db: Database) -> None:
    await add_user(db, 10)
    async with db.transaction() as conn:
        first = await ledger.post(conn, user_id=10, amount=500, kind="topup", reference="t:1")
        second = await ledger.post(conn, user_id=10, amount=-120, kind="purchase", reference="o:1")
    assert first is not None and first.balance_after == 500
    assert second is not None and second.balance_after == 380
    async with db.read() as conn:
        user = await users.get(conn, 10)
        rows = await ledger.recent(conn, 10)
    assert user is not None and user.balance == 380
    assert [r.amount for r in rows] == [-120, 500]


async def test_same_reference_posts_once(db: Database) -> None:
    await add_user(db, 11)
    async with db.transaction() as conn:
        assert await ledger.post(conn, user_id=11, amount=300, kind="refund", reference="order:7:refund")
        assert await ledger.post(conn, user_id=11, amount=300, kind="refund", reference="order:7:refund") is None
    async with db.read() as conn:
        user = await users.get(conn, 11)
    assert user is not None and user.balance == 300


async def test_debit_beyond_balance_is_refused_and_changes_nothing(db: Database) -> None:
    await add_user(db, 12, balance=100)
    with pytest.raises(ledger.InsufficientFunds):
        async with db.transaction() as conn:
            await ledger.post(conn, user_id=12, amount=-101, kind="purchase", reference="o:big")
    async with db.read() as conn:
        user = await users.get(conn, 12)
        assert not await ledger.exists(conn, "o:big")
    assert user is not None and user.balance == 100


async def test_failed_transaction_rolls_back_the_ledger_row(db: Database) -> None:
    await add_user(db, 13)
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await ledger.post(conn, user_id=13, amount=50, kind="topup", reference="t:rollback")
            raise RuntimeError("crash after the posting, before commit")
    async with db.read() as conn:
        assert not await ledger.exists(conn, "t:rollback")
        user = await users.get(conn, 13)
    assert user is not None and user.balance == 0


@pytest.mark.parametrize("amount", [0, 1.5, True])
async def test_amount_must_be_nonzero_int(db: Database, amount: object) -> None:
    await add_user(db, 14)
    with pytest.raises(ValueError):
        async with db.transaction() as conn:
            await ledger.post(conn, user_id=14, amount=amount, kind="x", reference="bad")  # type: ignore[arg-type]


async def test_ledger_rows_cannot_be_changed_or_deleted(db: Database) -> None:
    await add_user(db, 15, balance=10)
    for sql in ("UPDATE ledger SET amount = 999", "DELETE FROM ledger"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            async with db.transaction() as conn:
                await conn.execute(sql)


async def test_balance_equals_ledger_sum_after_many_postings(db: Database) -> None:
    await add_user(db, 16)
    async with db.transaction() as conn:
        for i, amount in enumerate([1000, -250, -250, 250, -999 + 249, 5]):
            await ledger.post(conn, user_id=16, amount=amount, kind="k", reference=f"r:{i}")
        assert await ledger.discrepancies(conn) == []
        user = await users.get(conn, 16)
    assert user is not None and user.balance == 1000 - 250 - 250 + 250 - 750 + 5
