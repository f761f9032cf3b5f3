"""The money audit: real orders through the services audit clean; each deliberate corruption is reported."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiogram.utils.i18n import I18n

from bot.app import LOCALES
from bot.money.audit import Audit, AuditReport, Books, Issue
from bot.money.billing import Billing
from bot.money.pricing import Pricing
from bot.money.promos import Promos
from bot.orders.placing import OrderService
from bot.orders.tracking import Tracker
from bot.settings import Settings
from handlers.admin.texts.audit import audit_text
from providers.money import format_minor
from storage import ledger
from storage.audit import REFERENCE_ORDER_SQL
from storage.db import Database
from storage.orders import OrderStatus, iso
from tests.conftest import add_user

pytestmark = pytest.mark.postgres

Services = tuple[OrderService, Tracker, Billing]
USER = 80
KEPT, REFUNDED, OPEN = 1, 2, 3  # the ids of the orders _world places (a fresh database)


async def _place(orders: OrderService, key: str) -> int:
    result = await orders.place(
        user_id=USER, chat_id=USER, request_key=key, country="US", service="whatsapp", confirmed=10_000
    )
    assert result.order is not None
    return result.order.id


async def _world(db: Database, services: Services) -> None:
    """A code received (kept 59), a cancelled one (refunded 59), one still waiting; and a promo."""
    orders, tracker, _ = services
    await add_user(db, USER, balance=500)
    assert await _place(orders, "a") == KEPT
    assert await _place(orders, "b") == REFUNDED
    assert (await tracker.actions.cancel(REFUNDED, USER)).order.status is OrderStatus.CANCELLED
    assert [o.id for o in await tracker.poll_all()] == [KEPT]  # the demo's code arrives at once
    assert await _place(orders, "c") == OPEN
    await Promos(db).create(admin_id=1, code="HELLO", amount=100, max_uses=3)
    await Promos(db).redeem(USER, "hello")


async def _sql(db: Database, sql: str, *params: object) -> None:
    async with db.transaction() as conn:
        await conn.execute(sql, params)


@pytest.fixture
def audit(db: Database, settings: Settings) -> Audit:
    return Audit(db, Pricing(settings))


async def test_real_orders_audit_clean_with_period_figures(db: Database, services: Services, audit: Audit) -> None:
    await _world(db, services)
    report = await audit.run(30)
    assert report.ok, report.issues
    money = report.money
    assert (money.orders, money.revenue, money.cost, money.margin) == (1, 59, 45, 14)
    assert (money.unknown_cost, money.unpriced_sales) == (0, 0)
    assert money.unsettled == 1  # the waiting order's number: bought, not settled yet
    assert report.topups == {"admin_credit": 500, "promo": 100}
    assert (report.refunds, report.refund_rows) == (59, 1)


async def _orphan_row(db: Database) -> None:
    async with db.transaction() as conn:  # a charge for an order that never existed
        await ledger.post(conn, user_id=USER, amount=-10, kind="purchase", reference="order:999:charge")


async def _negative(db: Database) -> None:
    """A balance below zero, past the constraint that refuses it (lifted for this one write)."""
    async with db.transaction() as conn:
        if getattr(conn, "dialect", "sqlite") == "postgresql":  # this test's own database: drop the CHECK
            await conn.execute("ALTER TABLE users DROP CONSTRAINT users_balance_check")
            await conn.execute("UPDATE users SET balance = -5 WHERE id = ?", (USER,))
            return
        await conn.execute("PRAGMA ignore_check_constraints = ON")
        await conn.execute("UPDATE users SET balance = -5 WHERE id = ?", (USER,))
        await conn.execute("PRAGMA ignore_check_constraints = OFF")


async def _order_without_charge(db: Database) -> None:
    await _sql(
        db,
        "INSERT INTO orders (user_id, request_key, status, provider, country, service, price, expires_at) "
        "VALUES (?, 'x', 'active', 'demo', 'US', 'whatsapp', 59, ?)",
        USER,
        iso(datetime.now(UTC)),
    )


CORRUPTIONS: dict[str, tuple[Callable[[Database], Awaitable[None]], list[tuple[str, int]]]] = {
    "cancelled without refund": (
        lambda db: _sql(db, "UPDATE orders SET status = 'cancelled' WHERE id = ?", OPEN),
        [("no_refund", OPEN), ("unsettled", OPEN)],  # and its number's purchase was never settled
    ),
    "refunded but active": (
        lambda db: _sql(db, "UPDATE orders SET status = 'active' WHERE id = ?", REFUNDED),
        [("stray_refund", REFUNDED)],
    ),
    "balance behind the ledger's back": (
        lambda db: _sql(db, "UPDATE users SET balance = balance + 100 WHERE id = ?", USER),
        [("balance", USER)],
    ),
    "price changed after the charge": (
        lambda db: _sql(db, "UPDATE orders SET price = price + 1 WHERE id = ?", KEPT),
        [("charge", KEPT)],
    ),
    "refunded price changed": (
        lambda db: _sql(db, "UPDATE orders SET price = 70 WHERE id = ?", REFUNDED),
        [("charge", REFUNDED), ("bad_refund", REFUNDED)],
    ),
    "order without a charge": (_order_without_charge, [("charge", 4)]),
    "ledger row of a missing order": (_orphan_row, [("orphan", 7)]),
    "negative balance": (_negative, [("balance", USER), ("negative", USER)]),
}


@pytest.mark.parametrize("name", CORRUPTIONS)
async def test_each_corruption_is_reported(db: Database, services: Services, audit: Audit, name: str) -> None:
    await _world(db, services)
    corrupt, expected = CORRUPTIONS[name]
    await corrupt(db)
    report = await audit.run(30)
    assert not report.ok
    assert [(i.kind, i.subject) for i in report.issues] == expected


async def test_issue_amounts_are_exact(db: Database, services: Services, audit: Audit) -> None:
    await _world(db, services)
    await _sql(db, "UPDATE orders SET price = 70 WHERE id = ?", REFUNDED)
    await _sql(db, "UPDATE users SET balance = balance + 100 WHERE id = ?", USER)
    issues = (await audit.run(30)).issues
    assert Issue("balance", USER, expected=500 - 2 * 59 + 100, found=500 - 2 * 59 + 200) in issues
    assert Issue("charge", REFUNDED, expected=70, found=59, detail="cancelled") in issues
    assert Issue("bad_refund", REFUNDED, expected=70, found=59, detail="cancelled") in issues


async def test_period_leaves_out_older_orders(db: Database, services: Services, audit: Audit) -> None:
    await _world(db, services)
    old = iso(datetime.now(UTC) - timedelta(days=40))
    await _sql(db, "UPDATE orders SET created_at = ? WHERE id = ?", old, KEPT)
    assert (await audit.run(30)).money.revenue == 0
    assert (await audit.run(60)).money.revenue == 59


def test_report_text_caps_the_list() -> None:
    report = AuditReport(days=7, since=datetime(2025, 1, 1, tzinfo=UTC), money=Books(revenue=590, cost=450))
    report.issues = [Issue("no_refund", n, 59, 0, "expired") for n in range(1, 36)]
    with I18n(path=LOCALES, default_locale="en", domain="messages").context():
        text = audit_text(report, lambda amount: f"{format_minor(amount, 'USD')} USD")
        clean = audit_text(AuditReport(days=30, since=datetime(2025, 1, 1, tzinfo=UTC)), str)
    lines = text.splitlines()
    assert sum(line.startswith("• Order #") for line in lines) == 30
    assert "• Order #30 (expired): no refund row" in lines and "• Order #31 (expired): no refund row" not in lines
    assert "+5 more" in lines
    assert "Margin: 1.40 USD" in lines
    assert clean.startswith("✅ ok")


def test_report_text_fits_one_message() -> None:
    report = AuditReport(days=7, since=datetime(2025, 1, 1, tzinfo=UTC))
    report.issues = [Issue("orphan", n, detail="order:999999:" + "x" * 150) for n in range(1, 36)]
    with I18n(path=LOCALES, default_locale="en", domain="messages").context():
        text = audit_text(report, str)
    lines = text.splitlines()
    shown = sum(line.startswith("• Ledger row #") for line in lines)
    assert len(text) <= 4096 and 0 < shown < 30
    assert f"+{35 - shown} more" in lines
    assert lines[-1].startswith("Refunds:")  # the books are never cut


@pytest.mark.parametrize(
    ("reference", "order_id"),
    [
        ("order:7:charge", 7),
        ("order:123:renew:4:refund", 123),
        ("order:42", 42),
        ("order::charge", None),
        ("order:abc:charge", None),
        ("order:" + "9" * 19 + ":charge", None),  # beyond a BIGINT: no order's
    ],
)
async def test_the_order_id_of_a_reference_reads_the_same_on_both_dialects(
    db: Database, reference: str, order_id: int | None
) -> None:
    async with db.read() as conn:
        sql = f"SELECT {REFERENCE_ORDER_SQL} FROM (SELECT CAST(? AS TEXT) AS reference) AS l"
        async with conn.execute(sql, (reference,)) as cur:
            row = await cur.fetchone()
    assert row is not None and row[0] == order_id
