"""Promo codes: created once, case-insensitive, credited once per user, limited uses and expiry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.money.billing import Billing
from bot.money.promos import Promos, Redeemed, normalize_code
from storage import admin_log, ledger
from storage.db import Database
from tests.conftest import add_user

pytestmark = pytest.mark.postgres


@pytest.fixture
def promos(db: Database) -> Promos:
    return Promos(db)


async def _uses(db: Database, code: str) -> tuple[int, int]:
    async with (
        db.read() as conn,
        conn.execute(
            "SELECT (SELECT uses FROM promo_codes WHERE code = ?), (SELECT COUNT(*) FROM promo_uses WHERE code = ?)",
            (code, code),
        ) as cur,
    ):
        row = await cur.fetchone()
    return row[0], row[1]


@pytest.mark.parametrize("text", ["ab", "x" * 33, "bad code", "spring!", "ÄBC", ""])
def test_garbage_codes_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        normalize_code(text)


def test_codes_are_upper_cased() -> None:
    assert normalize_code(" spring-25_x ") == "SPRING-25_X"


async def test_create_stores_upper_case_and_refuses_a_duplicate(db: Database, promos: Promos) -> None:
    created = await promos.create(admin_id=1, code="spring", amount=250, max_uses=2, days=7)
    again = await promos.create(admin_id=1, code="SPRING", amount=999, max_uses=9)
    assert created is not None and created.code == "SPRING" and created.max_uses == 2
    assert created.expires_at is not None and created.expires_at > datetime.now(UTC) + timedelta(days=6)
    assert again is None
    listed = await promos.newest()
    assert [(p.code, p.amount, p.uses) for p in listed] == [("SPRING", 250, 0)]
    async with db.read() as conn:
        log = await admin_log.recent(conn)
    assert [(a.admin_id, a.action) for a in log] == [(1, "promo_new")]


@pytest.mark.parametrize(("amount", "uses", "days"), [(0, 1, None), (100, 0, None), (100, 1, 0), (100, 1, 99999)])
async def test_create_refuses_out_of_range(promos: Promos, amount: int, uses: int, days: int | None) -> None:
    with pytest.raises(ValueError):
        await promos.create(admin_id=1, code="RANGE", amount=amount, max_uses=uses, days=days)
    assert await promos.newest() == []


async def test_redeem_credits_once_per_user(db: Database, promos: Promos) -> None:
    await add_user(db, 50, balance=100)
    await promos.create(admin_id=1, code="GIFT", amount=250, max_uses=5)
    first = await promos.redeem(50, "gift")
    second = await promos.redeem(50, "GIFT")
    assert first.outcome is Redeemed.CREDITED and first.amount == 250 and first.balance == 350
    assert second.outcome is Redeemed.ALREADY_USED
    assert await Billing(db, "USD").balance(50) == 350
    assert await _uses(db, "GIFT") == (1, 1)
    async with db.read() as conn:
        assert await ledger.exists(conn, "promo:GIFT:50")
        assert [e.kind for e in await ledger.recent(conn, 50)] == ["promo", "admin_credit"]
        assert await ledger.discrepancies(conn) == []


async def test_concurrent_redeems_by_one_user_credit_once(db: Database, promos: Promos) -> None:
    await add_user(db, 51)
    await promos.create(admin_id=1, code="RACE", amount=100, max_uses=10)
    results = await asyncio.gather(*(promos.redeem(51, "race") for _ in range(5)))
    outcomes = sorted(r.outcome for r in results)
    assert outcomes == [Redeemed.ALREADY_USED] * 4 + [Redeemed.CREDITED]
    assert await Billing(db, "USD").balance(51) == 100
    assert await _uses(db, "RACE") == (1, 1)


async def test_max_uses_is_a_hard_limit(db: Database, promos: Promos) -> None:
    for user_id in (60, 61, 62):
        await add_user(db, user_id)
    await promos.create(admin_id=1, code="TWO", amount=100, max_uses=2)
    outcomes = [(await promos.redeem(u, "two")).outcome for u in (60, 61, 62)]
    assert outcomes == [Redeemed.CREDITED, Redeemed.CREDITED, Redeemed.USED_UP]
    assert await Billing(db, "USD").balance(62) == 0
    assert await _uses(db, "TWO") == (2, 2)  # the refused use left no row behind
    assert (await promos.redeem(60, "two")).outcome is Redeemed.ALREADY_USED


async def test_unknown_and_expired_codes_credit_nothing(db: Database, promos: Promos) -> None:
    await add_user(db, 70)
    await promos.create(admin_id=1, code="SOON", amount=100, max_uses=5, days=1)
    assert (await promos.redeem(70, "nope")).outcome is Redeemed.NOT_FOUND
    later = datetime.now(UTC) + timedelta(days=1, minutes=1)
    assert (await promos.redeem(70, "soon", now=later)).outcome is Redeemed.EXPIRED
    assert await Billing(db, "USD").balance(70) == 0
    assert await _uses(db, "SOON") == (0, 0)
    assert (await promos.redeem(70, "soon")).outcome is Redeemed.CREDITED


async def test_redeem_with_a_garbage_code_raises(db: Database, promos: Promos) -> None:
    await add_user(db, 71)
    with pytest.raises(ValueError):
        await promos.redeem(71, "no way")
