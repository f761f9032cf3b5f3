"""The referral programme: who binds to whom, the bonus arithmetic, and the bonus posted once as an order
completes (never for one refunded), with the audit counting it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.money.audit import Audit
from bot.money.pricing import Pricing
from bot.money.referrals import Binding, Referrals, bonus, inviter_id
from bot.orders.actions import OrderActions
from bot.settings import Settings
from providers.catalog import Catalog
from providers.demo import DemoProvider
from storage import ledger
from storage import orders as order_rows
from storage.db import Database
from storage.orders import Order, OrderStatus
from tests.conftest import add_user, charged_order
from tests.order_services import order_service

pytestmark = pytest.mark.postgres

A, B, C, D = 101, 102, 103, 104


@pytest.mark.parametrize(
    ("price", "percent", "expected"),
    [(59, 5, 2), (100, 5, 5), (19, 5, 0), (20, 5, 1), (1000, 0, 0), (0, 5, 0), (999, 50, 499), (1, 50, 0)],
)
def test_bonus_is_rounded_down_in_minor_units(price: int, percent: int, expected: int) -> None:
    assert bonus(price, percent) == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        *[("r123", 123), ("r7", 7), ("r0", None), ("r", None), ("x12", None), ("r12a", None), ("r-1", None)],
        *[("wa-us", None), (None, None), ("r" + "9" * 17, None), ("R12", None)],
    ],
)
def test_referral_payload(payload: str | None, expected: int | None) -> None:
    assert inviter_id(payload) == expected


async def _bonus_rows(db: Database, user_id: int) -> list[ledger.Entry]:
    async with db.read() as conn:
        return [e for e in await ledger.recent(conn, user_id, 100) if e.kind == "referral"]


async def test_binding_rules(db: Database) -> None:
    for user_id in (A, B, C, D):
        await add_user(db, user_id)
    referrals = Referrals(db, 5)
    assert await referrals.bind(A, A) is Binding.SELF
    assert await referrals.bind(A, 999) is Binding.UNKNOWN  # never seen
    assert await referrals.bind(B, A) is Binding.BOUND
    assert await referrals.bind(B, C) is Binding.NOT_NEW  # bound once, never changed
    assert await referrals.bind(A, B) is Binding.LOOP  # A invited B: B cannot invite A
    assert await referrals.bind(C, B) is Binding.BOUND  # A -> B -> C
    assert await referrals.bind(A, C) is Binding.LOOP  # a longer loop
    assert (await referrals.summary(A)).joined == 1
    assert (await referrals.summary(B)).joined == 1


async def test_only_a_newcomer_binds(db: Database) -> None:
    await add_user(db, A)
    await add_user(db, B, balance=100)  # money moved: not a first visit any more
    await add_user(db, C)
    referrals = Referrals(db, 5)
    assert await referrals.bind(B, A) is Binding.NOT_NEW
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET is_banned = 1 WHERE id = ?", (A,))
    assert await referrals.bind(C, A) is Binding.BANNED
    assert await Referrals(db, 0).bind(C, B) is Binding.OFF
    await add_user(db, D, balance=100)
    async with db.transaction() as conn:
        await charged_order(conn, user_id=D, price=50, **_order_columns("k-d"))
    assert await referrals.bind(D, C) is Binding.NOT_NEW  # money moved, an order placed


def _order_columns(key: str) -> dict[str, object]:
    return {
        "request_key": key,
        "provider": "demo",
        "country": "us",
        "service": "wa",
        "expires_at": datetime.now(UTC) + timedelta(minutes=20),
    }


async def _with_code(db: Database, user_id: int, price: int, key: str) -> Order:
    async with db.transaction() as conn:
        order = await charged_order(conn, user_id=user_id, price=price, **_order_columns(key))
        await order_rows.update(conn, order.id, expect=(OrderStatus.PENDING,), status=OrderStatus.ACTIVE)
        await order_rows.update(conn, order.id, expect=(OrderStatus.ACTIVE,), status=OrderStatus.CODE_RECEIVED)
    return order


def _actions(db: Database, settings: Settings, referrals: Referrals) -> OrderActions:
    orders = order_service(db, Catalog([DemoProvider(sms_delay_seconds=0)]), Pricing(settings), timedelta(minutes=20))
    return OrderActions(orders, referrals)


async def test_finish_credits_the_inviter_once(db: Database, settings: Settings) -> None:
    await add_user(db, A)
    await add_user(db, B, balance=1000)
    referrals = Referrals(db, 5)
    assert await referrals.bind(B, A) is Binding.NOT_NEW  # B had money already
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET referrer_id = ? WHERE id = ?", (A, B))
    actions = _actions(db, settings, referrals)
    order = await _with_code(db, B, 59, "k1")
    done = await actions.finish(order.id, B)
    assert done is not None and done.status is OrderStatus.COMPLETED
    await actions.finish(order.id, B)  # a replay: nothing more
    async with db.transaction() as conn:  # the hook itself, replayed: the unique reference holds
        assert await referrals.credit(conn, done) is None
    rows = await _bonus_rows(db, A)
    assert [(r.amount, r.reference, r.order_id) for r in rows] == [(2, f"referral:{order.id}", order.id)]
    summary = await referrals.summary(A)
    assert (summary.joined, summary.bonuses, summary.earned) == (1, 1, 2)
    report = await Audit(db, Pricing(settings)).run()
    assert report.ok, report.issues
    assert report.referrals == (1, 2)


async def test_no_bonus_for_refunded_tiny_or_banned(db: Database, settings: Settings) -> None:
    await add_user(db, A)
    await add_user(db, B, balance=5000)
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET referrer_id = ? WHERE id = ?", (A, B))
    referrals = Referrals(db, 5)
    actions = _actions(db, settings, referrals)
    async with db.transaction() as conn:
        cancelled = await charged_order(conn, user_id=B, price=59, **_order_columns("k2"))
        await order_rows.update(conn, cancelled.id, expect=(OrderStatus.PENDING,), status=OrderStatus.ACTIVE)
    await actions.close_without_code(cancelled, OrderStatus.CANCELLED, None)
    assert await actions.finish(cancelled.id) is not None  # a finish of a refunded order changes nothing
    tiny = await _with_code(db, B, 19, "k3")  # 5% of 0.19 rounds down to 0: nothing posted
    await actions.finish(tiny.id)
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET is_banned = 1 WHERE id = ?", (A,))
    banned = await _with_code(db, B, 500, "k4")
    await actions.finish(banned.id)
    assert await _bonus_rows(db, A) == []
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET is_banned = 0 WHERE id = ?", (A,))
    unpaid = await _with_code(db, B, 500, "k5")
    await _actions(db, settings, Referrals(db, 0)).finish(unpaid.id)  # off
    assert await _bonus_rows(db, A) == []


async def test_audit_flags_a_bonus_for_an_order_that_was_refunded(db: Database, settings: Settings) -> None:
    await add_user(db, A)
    await add_user(db, B, balance=1000)
    async with db.transaction() as conn:
        order = await charged_order(conn, user_id=B, price=59, **_order_columns("k6"))
        await ledger.post(
            conn, user_id=A, amount=2, kind="referral", reference=f"referral:{order.id}", order_id=order.id
        )
    report = await Audit(db, Pricing(settings)).run()
    assert [(i.kind, i.detail) for i in report.issues] == [("stray_referral", f"referral:{order.id}")]
