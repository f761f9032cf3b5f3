"""The operator's books from hand-built orders, renewals, upstream purchases and ledger rows: revenue,
cost, write-offs by upstream / user / reason, margin; and each contradiction between them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import aiosqlite
import pytest
from aiogram.utils.i18n import I18n

from bot.app import LOCALES
from bot.money.audit import Audit, AuditReport, Issue, WriteOffs
from bot.money.pricing import Pricing
from bot.settings import Settings
from handlers.admin.texts.audit import audit_text
from providers.money import format_minor
from storage import ledger, purchases
from storage.db import Database
from storage.orders import iso
from storage.purchases import Outcome, WriteOff
from tests.conftest import add_user

pytestmark = pytest.mark.postgres

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=40)
A, B, C = 10, 11, 12  # users


@dataclass(frozen=True)
class Settle:
    """A purchase to record and how it ended (outcome None: still open)."""

    cost: int | None
    currency: str | None = "USD"
    outcome: Outcome | None = Outcome.SOLD
    reason: WriteOff | None = None
    provider: str | None = None  # the order's by default
    upstream_id: str | None = "same"  # the order's by default; None: an unclear purchase


async def _order(
    conn: aiosqlite.Connection,
    user: int,
    status: str,
    price: int,
    *purchase: Settle,
    provider: str = "alpha",
    refundable: bool = True,
    refunded: bool | None = None,  # post a refund row; by default when the status owes one
    created: datetime = NOW,
    cost: int | None = None,  # the order's own cost (orders from before purchases were recorded)
) -> int:
    async with conn.execute(
        """
        INSERT INTO orders (user_id, request_key, status, provider, upstream_id, country, service, price,
                            cost, cost_currency, refundable, created_at, expires_at)
        VALUES (?, ?, ?, ?, NULL, 'US', 'whatsapp', ?, ?, 'USD', ?, ?, ?) RETURNING id
        """,
        (
            user,
            uuid4().hex,
            status,
            provider,
            price,
            cost,
            int(refundable),
            iso(created),
            iso(created + timedelta(minutes=20)),
        ),
    ) as cur:
        order_id = int((await cur.fetchone())[0])
    await conn.execute("UPDATE orders SET upstream_id = ? WHERE id = ?", (f"up{order_id}", order_id))
    await ledger.post(conn, user_id=user, amount=-price, kind="purchase", reference=f"order:{order_id}:charge")
    if refunded is None:
        refunded = status == "failed" or (status in ("cancelled", "expired") and refundable)
    if refunded:
        await ledger.post(conn, user_id=user, amount=price, kind="refund", reference=f"order:{order_id}:refund")
    for n, p in enumerate(purchase):
        record = await purchases.record(
            conn,
            order_id=order_id,
            user_id=user,
            provider=p.provider or provider,
            upstream_id=f"up{order_id}" if p.upstream_id == "same" else p.upstream_id or None,
            cost=p.cost,
            cost_currency=p.currency,
            reference=f"order:{order_id}:{n}",
        )
        assert record is not None
        if p.outcome is not None:
            assert await purchases.settle(conn, record.id, p.outcome, p.reason)
    return order_id


async def _renewal(
    conn: aiosqlite.Connection,
    order_id: int,
    user: int,
    status: str,
    price: int,
    purchase: Settle | None = None,
    *,
    charged: bool = True,
    refund: int | None = None,  # the refund row's amount; by default the price when refunded
    created: datetime = NOW,
) -> str:
    async with conn.execute("SELECT COUNT(*) FROM order_renewals") as cur:
        nonce = int((await cur.fetchone())[0])
    reference = f"order:{order_id}:renew:n{nonce}"
    await conn.execute(
        "INSERT INTO order_renewals (order_id, reference, days, price, status, created_at) VALUES (?, ?, 7, ?, ?, ?)",
        (order_id, reference, price, status, iso(created)),
    )
    if charged:
        await ledger.post(conn, user_id=user, amount=-price, kind="renewal", reference=reference, order_id=order_id)
    refund = price if refund is None and status == "refunded" else refund
    if refund:
        await ledger.post(conn, user_id=user, amount=refund, kind="refund", reference=f"{reference}:refund")
    if purchase is not None:
        record = await purchases.record(
            conn,
            order_id=order_id,
            user_id=user,
            kind="renewal",
            provider=purchase.provider or "alpha",
            upstream_id=f"up{order_id}",
            cost=purchase.cost,
            cost_currency=purchase.currency,
            reference=reference,
        )
        assert record is not None
        if purchase.outcome is not None:
            assert await purchases.settle(conn, record.id, purchase.outcome, purchase.reason)
    return reference


async def _users(db: Database) -> None:
    for user in (A, B, C):
        await add_user(db, user, balance=10_000)


async def _books_world(db: Database) -> None:
    """One order or renewal for each outcome and write-off reason; everything agrees."""
    await _users(db)
    off = Outcome.WRITTEN_OFF
    async with db.transaction() as conn:
        await _order(conn, A, "completed", 100, Settle(50))  # sold
        await _order(conn, A, "cancelled", 100, Settle(40, outcome=Outcome.UPSTREAM_REFUNDED))  # costs nothing
        await _order(conn, A, "expired", 100, Settle(30, outcome=off, reason=WriteOff.NO_CANCEL))
        await _order(conn, B, "expired", 100, Settle(100, "EUR", off, WriteOff.CANCEL_REFUSED), provider="beta")
        await _order(conn, A, "cancelled", 100, Settle(20, outcome=off, reason=WriteOff.CANCEL_FAILED), provider="beta")
        unclear = Settle(None, None, off, WriteOff.UNCLEAR, upstream_id=None)
        await _order(conn, C, "failed", 100, unclear, provider="beta")
        await _order(conn, B, "expired", 150, Settle(60), refundable=False)  # non-refundable: kept, sold
        await _order(conn, C, "completed", 80, Settle(10, "XYZ"))  # sold at a cost with no rate: unknown
        await _order(conn, A, "failed", 100, Settle(25, outcome=off, reason=WriteOff.ORPHANED))
        rental = await _order(conn, C, "code_received", 200, Settle(100))
        await _renewal(conn, rental, C, "done", 120, Settle(70))
        await _renewal(conn, rental, C, "refunded", 120, Settle(70, outcome=off, reason=WriteOff.RENEWAL_UNCLEAR))
        await _renewal(conn, rental, C, "pending", 120)  # charged, the upstream not asked yet
        await _renewal(conn, rental, C, "unknown", 120)  # charged, the answer lost
        await _order(conn, A, "active", 100, Settle(50, outcome=None))  # bought, still open
        await _order(conn, A, "completed", 90, cost=45)  # from before purchases were recorded
        await _order(conn, B, "expired", 999, Settle(999, outcome=off, reason=WriteOff.NO_CANCEL), created=OLD)
        await _renewal(conn, rental, C, "done", 999, Settle(999), created=OLD)


@pytest.fixture
def audit(db: Database, settings: Settings) -> Audit:
    return Audit(db, Pricing(settings))


async def test_books_count_every_outcome_and_write_off(db: Database, audit: Audit) -> None:
    await _books_world(db)
    report = await audit.run(30)
    assert report.ok, report.issues
    money = report.money
    # kept: orders 1, 7 (non-refundable), 8, the rental, the recorded-before one; the done renewal
    assert (money.orders, money.renewals, money.revenue) == (5, 1, 100 + 150 + 80 + 200 + 90 + 120)
    # sold 50 + 60 + 100 + 70 (renewal), written off 30 + 108 (1.00 EUR) + 20 + 25 + 70, the old order's own 45
    assert money.cost == (50 + 60 + 100 + 70) + (30 + 108 + 20 + 25 + 70) + 45
    assert (money.unknown_cost, money.unsettled, money.upstream_refunded) == (2, 1, 1)  # XYZ and unclear; open
    assert (money.unpriced_sales, money.unpriced_revenue) == (1, 80)  # the XYZ sale is left out of the margin
    assert money.margin == 740 - 80 - 578
    assert money.written_off == WriteOffs(count=6, cost=253, unknown=1)
    assert money.providers() == [("beta", WriteOffs(3, 128, 1)), ("alpha", WriteOffs(3, 125, 0))]
    assert money.top_users(2) == [(A, WriteOffs(3, 75, 0)), (C, WriteOffs(2, 70, 1))]
    assert money.by_user[B] == WriteOffs(1, 108, 0)
    assert dict(money.reasons()) == {
        WriteOff.NO_CANCEL: WriteOffs(1, 30, 0),
        WriteOff.CANCEL_REFUSED: WriteOffs(1, 108, 0),
        WriteOff.CANCEL_FAILED: WriteOffs(1, 20, 0),
        WriteOff.UNCLEAR: WriteOffs(1, 0, 1),
        WriteOff.ORPHANED: WriteOffs(1, 25, 0),
        WriteOff.RENEWAL_UNCLEAR: WriteOffs(1, 70, 0),
    }
    # refunds are counted when posted: six orders, the refunded renewal, and the old order's just now
    assert (report.refunds, report.refund_rows) == (6 * 100 + 120 + 999, 8)
    longer = (await audit.run(60)).money  # the old order's write-off and the old renewal come in
    assert (longer.revenue, longer.written_off.count, longer.by_user[B]) == (740 + 999, 7, WriteOffs(2, 1107, 0))
    assert longer.cost == 578 + 999 + 999


def _render(report: AuditReport) -> list[str]:
    with I18n(path=LOCALES, default_locale="en", domain="messages").context():
        return audit_text(report, lambda amount: f"{format_minor(amount, 'USD')} USD").splitlines()


async def test_audit_text_shows_write_offs(db: Database, audit: Audit) -> None:
    await _books_world(db)
    lines = _render(await audit.run(30))
    assert lines[0].startswith("✅ ok")
    assert "Revenue: 7.40 USD from 5 orders and 1 renewal" in lines
    assert "Upstream cost: 5.78 USD" in lines
    assert "Written off: 6 purchases costing 2.53 USD (1 of them with an unknown cost)" in lines
    assert "by upstream: beta 3 · 1.28 USD, alpha 3 · 1.25 USD" in lines
    assert "top users: user 10 3 · 0.75 USD, user 12 2 · 0.70 USD, user 11 1 · 1.08 USD" in lines
    (reasons,) = [line for line in lines if line.startswith("by reason: ")]
    assert "refunded, the upstream has no cancel 1 · 0.30 USD" in reasons
    assert "unclear renewal 1 · 0.70 USD" in reasons and "renewal_unclear" not in reasons
    assert "Given back by the upstream: 1 purchase (no cost)" in lines
    assert "Cost unknown: 2 purchases (left out of the cost)" in lines
    assert "Not settled yet: 1 purchase (left out of the cost)" in lines
    assert "Left out of the margin: 0.80 USD from 1 sale whose cost is not known" in lines
    assert "Margin: 0.82 USD" in lines
    assert any(line.startswith("Top-ups: 300.00 USD (admin credits 300.00 USD)") for line in lines)


def test_audit_text_without_write_offs_has_no_breakdown() -> None:
    lines = _render(AuditReport(days=30, since=NOW))
    assert "Written off: 0 purchases costing 0.00 USD" in lines
    assert not any(line.startswith(("by upstream", "top users", "Cost unknown", "Not settled")) for line in lines)


async def _base(db: Database) -> dict[str, int]:
    """Orders that agree, for the corruptions below to change."""
    await _users(db)
    async with db.transaction() as conn:
        return {
            "kept": await _order(conn, A, "completed", 100, Settle(50)),
            "refunded": await _order(conn, A, "cancelled", 100, Settle(50, outcome=Outcome.UPSTREAM_REFUNDED)),
            "rental": await _order(conn, A, "code_received", 100, Settle(50)),
        }


Build = Callable[[aiosqlite.Connection, dict[str, int]], Awaitable[object]]
off = Outcome.WRITTEN_OFF


def _rental_renewal(
    status: str, issue: str, *, charged: bool = True, refund: int | None = None
) -> tuple[Build, list[tuple[str, str]]]:
    """A 0.70 renewal of the base rental in ``status``, charged and refunded as :func:`_renewal` takes it;
    the audit reports ``issue`` against the rental."""
    return (
        lambda c, o: _renewal(c, o["rental"], A, status, 70, charged=charged, refund=refund),
        [(issue, "rental")],
    )


#: name -> (rows to add to the base, the issues expected as (kind, key of the subject's id))
CONTRADICTIONS: dict[str, tuple[Build, list[tuple[str, str]]]] = {
    "closed order, purchase open": (
        lambda c, o: _order(c, B, "completed", 100, Settle(50, outcome=None)),
        [("unsettled", "new")],
    ),
    "expired refundable, purchase open": (
        lambda c, o: _order(c, B, "expired", 100, Settle(50, outcome=None)),
        [("unsettled", "new")],
    ),
    "refunded to the user, purchase sold": (
        lambda c, o: _order(c, B, "cancelled", 100, Settle(50)),
        [("sold_refunded", "new")],
    ),
    "failed non-refundable is still refunded, purchase sold": (
        lambda c, o: _order(c, B, "failed", 100, Settle(50), refundable=False),
        [("sold_refunded", "new")],
    ),
    "code kept, purchase written off": (
        lambda c, o: _order(c, B, "code_received", 100, Settle(50, outcome=off, reason=WriteOff.NO_CANCEL)),
        [("kept_written_off", "new")],
    ),
    "completed, purchase refunded upstream": (
        lambda c, o: _order(c, B, "completed", 100, Settle(50, outcome=Outcome.UPSTREAM_REFUNDED)),
        [("kept_upstream_refunded", "new")],
    ),
    "non-refundable expiry, purchase written off": (
        lambda c, o: _order(
            c, B, "expired", 100, Settle(50, outcome=off, reason=WriteOff.CANCEL_REFUSED), refundable=False
        ),
        [("kept_written_off", "new")],
    ),
    "non-refundable cancel refunded": (
        lambda c, o: _order(c, B, "cancelled", 100, Settle(50), refundable=False, refunded=True),
        [("stray_refund", "new")],
    ),
    "refundable expiry not refunded": (
        lambda c, o: _order(c, B, "expired", 100, Settle(50, outcome=off, reason=WriteOff.NO_CANCEL), refunded=False),
        [("no_refund", "new")],
    ),
    "done renewal refunded": _rental_renewal("done", "renewal_stray_refund", refund=70),
    "pending renewal refunded": _rental_renewal("pending", "renewal_stray_refund", refund=70),
    "refunded renewal without its refund": _rental_renewal("refunded", "renewal_no_refund", refund=0),
    "refunded renewal, wrong refund": _rental_renewal("refunded", "renewal_bad_refund", refund=60),
    "renewal never charged": _rental_renewal("unknown", "renewal_charge", charged=False),
    "renewal charge without a renewal": (
        lambda c, o: ledger.post(c, user_id=A, amount=-70, kind="renewal", reference=f"order:{o['rental']}:renew:x"),
        [("renewal_orphan", "row")],
    ),
}


@pytest.mark.parametrize("name", CONTRADICTIONS)
async def test_each_contradiction_is_reported(db: Database, audit: Audit, name: str) -> None:
    ids = await _base(db)
    assert (await audit.run(30)).ok
    build, expected = CONTRADICTIONS[name]
    async with db.transaction() as conn:
        await build(conn, ids)
        async with conn.execute("SELECT MAX(id) FROM orders") as cur:
            ids["new"] = int((await cur.fetchone())[0])
        async with conn.execute("SELECT MAX(id) FROM ledger") as cur:
            ids["row"] = int((await cur.fetchone())[0])
    report = await audit.run(30)
    assert [(i.kind, i.subject) for i in report.issues] == [(kind, ids[key]) for kind, key in expected]


async def test_contradictions_name_the_purchase_and_renewal(db: Database, audit: Audit) -> None:
    ids = await _base(db)
    async with db.transaction() as conn:
        sold = await _order(conn, B, "expired", 100, Settle(50))
        await _renewal(conn, ids["rental"], A, "refunded", 70, refund=60)
        (purchase,) = await purchases.of_order(conn, sold)
    issues = (await audit.run(30)).issues
    assert Issue("sold_refunded", sold, detail="expired", item=purchase.id) in issues
    assert Issue("renewal_bad_refund", ids["rental"], 70, 60, "refunded", item=1) in issues
    lines = _render(AuditReport(days=30, since=NOW, issues=issues))
    assert f"• Order #{sold} (expired): the user was refunded, but upstream purchase #{purchase.id} is sold" in lines
    assert f"• Order #{ids['rental']}, renewal #1 (renewal refunded): refunded 0.60 USD, price 0.70 USD" in lines


async def test_settled_states_that_agree_are_not_contradictions(db: Database, audit: Audit) -> None:
    """Non-refundable endings keep their charge; extra purchases of a kept order may be written off."""
    await _base(db)
    async with db.transaction() as conn:
        await _order(conn, B, "expired", 100, Settle(50), refundable=False)  # no refund row: right
        await _order(conn, B, "cancelled", 100, Settle(50), refundable=False)
        orphaned = Settle(50, outcome=off, reason=WriteOff.ORPHANED)
        elsewhere = Settle(50, outcome=Outcome.UPSTREAM_REFUNDED, provider="beta")
        await _order(conn, B, "completed", 100, Settle(50), orphaned, elsewhere)
        await _order(conn, B, "failed", 100, Settle(None, None, off, WriteOff.UNCLEAR, upstream_id=None))
        await _order(conn, B, "active", 100, Settle(50, outcome=None))  # open order, open purchase
    report = await audit.run(30)
    assert report.ok, report.issues


async def test_sales_from_before_purchases_were_recorded(db: Database, audit: Audit) -> None:
    """An order with no recorded purchase counts its own cost; a renewal with none has no known cost."""
    await _users(db)
    async with db.transaction() as conn:
        priced = await _order(conn, A, "completed", 100, cost=108)
        await conn.execute("UPDATE orders SET cost = 100, cost_currency = 'EUR' WHERE id = ?", (priced,))
        unpriced = await _order(conn, A, "code_received", 90)  # no cost at all
        await _renewal(conn, unpriced, A, "done", 70)
    report = await audit.run(30)
    assert report.ok, report.issues
    money = report.money
    assert (money.orders, money.renewals, money.revenue, money.cost) == (2, 1, 260, 108)
    assert (money.unknown_cost, money.unpriced_sales, money.unpriced_revenue) == (2, 2, 160)
    assert money.margin == 100 - 108
