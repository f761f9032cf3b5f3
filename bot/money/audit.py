"""The money audit: does every balance, order, renewal, upstream purchase and ledger row agree, and
what did a period earn and cost.

Everything is read under one :meth:`Database.read`, so no transaction lands between two checks.

The period's books (:func:`books`, shared with the statistics screen):

* revenue — the prices the bot kept: orders that got a code, non-refundable orders that ended
  without one, and renewals the upstream confirmed;
* cost — the upstream cost of every purchase ``sold`` or ``written_off``, converted to the bot
  currency; ``upstream_refunded`` costs nothing. An order from before purchases were recorded
  counts its own cost;
* margin — revenue minus cost, leaving out the revenue of sales whose cost is not known, so an
  unknown cost never shows as profit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.money.pricing import Pricing
from storage import audit as audit_queries
from storage import ledger, referrals
from storage.backends import Store
from storage.orders import iso
from storage.purchases import Outcome

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Issue:
    """One contradiction. ``kind``:

    * users: ``balance``, ``negative``;
    * orders: ``charge``, ``no_refund``, ``bad_refund``, ``stray_refund``;
    * renewals (``item`` is the renewal id): ``renewal_charge``, ``renewal_no_refund``,
      ``renewal_bad_refund``, ``renewal_stray_refund``;
    * upstream purchases (``item`` is the purchase id): ``unsettled``, ``sold_refunded``,
      ``kept_written_off``, ``kept_upstream_refunded``;
    * ledger rows (``subject`` the row id, ``detail``: reference): ``orphan``, ``renewal_orphan``, ``stray_referral``.
    """

    kind: str
    subject: int  # user id, order id, or ledger row id (orphan)
    expected: int = 0  # minor units: ledger sum, price
    found: int = 0  # minor units: cached balance, ledger amount
    detail: str = ""  # order or renewal status, or the orphan's reference
    item: int | None = None  # the renewal or upstream purchase the issue is about


@dataclass(slots=True)
class WriteOffs:
    """Purchases whose cost the operator bore: how many, and their known cost in the bot currency."""

    count: int = 0
    cost: int = 0
    unknown: int = 0  # of ``count``, how many have no known cost (left out of ``cost``)

    def add(self, cost: int | None) -> None:
        self.count += 1
        if cost is None:
            self.unknown += 1
        else:
            self.cost += cost


@dataclass(slots=True)
class Books:
    """A period's revenue, upstream cost, write-offs and margin (see the module docstring)."""

    orders: int = 0  # orders that kept their price
    renewals: int = 0  # renewals that kept theirs
    revenue: int = 0  # bot currency minor units
    cost: int = 0  # known cost of purchases sold or written off, bot currency
    unknown_cost: int = 0  # purchases sold or written off whose cost is unknown or has no rate
    unpriced_sales: int = 0  # sales whose cost is not known (unknown, or not recorded, or not settled)
    unpriced_revenue: int = 0  # their prices, left out of the margin
    upstream_refunded: int = 0  # purchases the upstream gave back: no cost
    unsettled: int = 0  # purchases with no outcome yet: not in the cost
    written_off: WriteOffs = field(default_factory=WriteOffs)
    by_provider: dict[str, WriteOffs] = field(default_factory=dict)
    by_user: dict[int, WriteOffs] = field(default_factory=dict)
    by_reason: dict[str, WriteOffs] = field(default_factory=dict)

    @property
    def sales(self) -> int:
        return self.orders + self.renewals

    @property
    def margin(self) -> int:
        """Revenue minus cost, over the sales whose cost is known."""
        return self.revenue - self.unpriced_revenue - self.cost

    def top_users(self, n: int) -> list[tuple[int, WriteOffs]]:
        """The ``n`` users with the most write-offs, then the costliest."""
        return sorted(self.by_user.items(), key=lambda kv: (-kv[1].count, -kv[1].cost, kv[0]))[:n]

    def providers(self) -> list[tuple[str, WriteOffs]]:
        """Write-offs per upstream, costliest first."""
        return sorted(self.by_provider.items(), key=lambda kv: (-kv[1].cost, -kv[1].count, kv[0]))

    def reasons(self) -> list[tuple[str, WriteOffs]]:
        return sorted(self.by_reason.items(), key=lambda kv: (-kv[1].count, -kv[1].cost, kv[0]))


def _convert(pricing: Pricing, cost: int | None, currency: str | None) -> int | None:
    return pricing.convert(cost, currency) if cost is not None and currency else None


def books(
    sales: Iterable[audit_queries.Sale], purchases: Iterable[audit_queries.PurchaseCost], pricing: Pricing
) -> Books:
    """The books of one period's sales and upstream purchases (both already cut to the period)."""
    result = Books()
    # sale key -> is its cost known: ("number", order id) or ("renewal", reference)
    priced: dict[tuple[str, int | str], bool] = {}
    for p in purchases:
        key: tuple[str, int | str] = ("number", p.order_id) if p.kind == "number" else ("renewal", p.reference)
        if p.outcome is None:
            result.unsettled += 1
            priced[key] = False
            continue
        if p.outcome == Outcome.UPSTREAM_REFUNDED:
            result.upstream_refunded += 1
            continue
        cost = _convert(pricing, p.cost, p.cost_currency)
        if cost is None:
            result.unknown_cost += 1
        else:
            result.cost += cost
        if p.outcome == Outcome.SOLD:
            priced[key] = priced.get(key, True) and cost is not None
            continue
        result.written_off.add(cost)
        result.by_provider.setdefault(p.provider, WriteOffs()).add(cost)
        result.by_user.setdefault(p.user_id, WriteOffs()).add(cost)
        result.by_reason.setdefault(p.reason or "", WriteOffs()).add(cost)
    for sale in sales:
        if sale.kind == "number":
            result.orders += 1
        else:
            result.renewals += 1
        result.revenue += sale.price
        if sale.recorded:
            key = ("number", sale.order_id) if sale.kind == "number" else ("renewal", sale.reference or "")
            known = priced.get(key, True)  # no sold or open purchase: its cost is a write-off, or nothing
        else:  # from before purchases were recorded: the order's own cost, none for a renewal
            legacy = _convert(pricing, sale.legacy_cost, sale.legacy_currency)
            known = legacy is not None
            if legacy is None:
                result.unknown_cost += 1
            else:
                result.cost += legacy
        if not known:
            result.unpriced_sales += 1
            result.unpriced_revenue += sale.price
    return result


@dataclass(slots=True)
class AuditReport:
    days: int
    since: datetime
    issues: list[Issue] = field(default_factory=list)
    money: Books = field(default_factory=Books)  # orders and renewals created in the period
    topups: dict[str, int] = field(default_factory=dict)  # kind -> sum, for topup / promo / admin_credit
    refunds: int = 0  # orders' and renewals' refunds posted in the period
    refund_rows: int = 0
    referrals: tuple[int, int] = (0, 0)  # referral bonuses posted in the period: how many, their sum

    @property
    def ok(self) -> bool:
        return not self.issues


class Audit:
    def __init__(self, db: Store, pricing: Pricing) -> None:
        self.db = db
        self.pricing = pricing

    async def run(self, days: int = 30) -> AuditReport:
        report = AuditReport(days=days, since=datetime.now(UTC) - timedelta(days=days))
        since = iso(report.since)
        async with self.db.read() as conn:
            for user_id, cached, total in await ledger.discrepancies(conn):
                report.issues.append(Issue("balance", user_id, expected=total, found=cached))
            for user_id, balance in await audit_queries.negative_balances(conn):
                report.issues.append(Issue("negative", user_id, found=balance))
            charges = await audit_queries.order_money(conn, "charge")
            refunds = await audit_queries.order_money(conn, "refund")
            renewals = await audit_queries.renewal_money(conn)
            purchase_issues = await audit_queries.purchase_issues(conn)
            orphans = await audit_queries.orphan_rows(conn)
            renewal_orphans = await audit_queries.orphan_renewal_rows(conn)
            sales = await audit_queries.sales(conn, since)
            purchases = await audit_queries.purchase_costs(conn, since)
            topups = await audit_queries.totals_by_kind(conn, audit_queries.TOPUP_KINDS, since)
            refunded = await audit_queries.totals_by_kind(conn, ("refund", referrals.KIND), since)
            stray = await referrals.stray_bonuses(conn)
        for row in charges:
            if row.rows != 1 or row.total != -row.price:
                report.issues.append(Issue("charge", row.order_id, row.price, -row.total, row.status))
        for row in refunds:
            report.issues.extend(_refund_issues(row))
        for renewal in renewals:
            report.issues.extend(_renewal_issues(renewal))
        report.issues.extend(Issue(p.problem, p.order_id, detail=p.status, item=p.purchase_id) for p in purchase_issues)
        report.issues.extend(Issue("orphan", ledger_id, detail=reference) for ledger_id, reference in orphans)
        report.issues.extend(
            Issue("renewal_orphan", ledger_id, detail=reference) for ledger_id, reference in renewal_orphans
        )
        report.issues.extend(Issue("stray_referral", row_id, detail=reference) for row_id, reference in stray)
        report.money = books(sales, purchases, self.pricing)
        report.topups = {kind: total for kind, (_, total) in topups.items()}
        report.refund_rows, report.refunds = refunded.get("refund", (0, 0))
        report.referrals = refunded.get(referrals.KIND, (0, 0))
        if report.issues:
            logger.warning("audit found %d discrepancies", len(report.issues))
        return report


def _refund_issues(row: audit_queries.MoneyRow) -> list[Issue]:
    """A refundable order that ended without a code has one refund of its price; any other none."""
    if audit_queries.refunded(row.status, row.refundable):
        if row.rows == 0:
            return [Issue("no_refund", row.order_id, row.price, 0, row.status)]
        if row.rows != 1 or row.total != row.price:
            return [Issue("bad_refund", row.order_id, row.price, row.total, row.status)]
    elif row.rows:
        return [Issue("stray_refund", row.order_id, 0, row.total, row.status)]
    return []


def _renewal_issues(r: audit_queries.RenewalMoney) -> list[Issue]:
    """Every renewal has one charge of its price; a ``refunded`` one also one refund of it, no other any."""
    issues = []
    if r.charge_rows != 1 or r.charged != -r.price:
        issues.append(Issue("renewal_charge", r.order_id, r.price, -r.charged, r.status, r.renewal_id))
    if r.status == "refunded":
        if r.refund_rows == 0:
            issues.append(Issue("renewal_no_refund", r.order_id, r.price, 0, r.status, r.renewal_id))
        elif r.refund_rows != 1 or r.refunded != r.price:
            issues.append(Issue("renewal_bad_refund", r.order_id, r.price, r.refunded, r.status, r.renewal_id))
    elif r.refund_rows:
        issues.append(Issue("renewal_stray_refund", r.order_id, 0, r.refunded, r.status, r.renewal_id))
    return issues
