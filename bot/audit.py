"""The money audit: does every balance, order and ledger row agree, and what did a period earn.

Everything is read under one :meth:`Database.read`, so no transaction lands between two checks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.pricing import Pricing
from storage import audit as q
from storage import ledger
from storage.db import Database
from storage.orders import iso

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Issue:
    """One contradiction. ``kind``: balance, negative, charge, no_refund, bad_refund, stray_refund, orphan."""

    kind: str
    subject: int  # user id, order id, or ledger row id (orphan)
    expected: int = 0  # minor units: ledger sum, price
    found: int = 0  # minor units: cached balance, ledger amount
    detail: str = ""  # order status, or the orphan's reference


@dataclass(slots=True)
class AuditReport:
    days: int
    since: datetime
    issues: list[Issue] = field(default_factory=list)
    orders: int = 0  # orders that kept their money, created in the period
    revenue: int = 0  # their prices
    cost: int = 0  # their known upstream cost, converted to the bot currency
    unknown_cost_orders: int = 0
    unknown_cost_revenue: int = 0
    topups: dict[str, int] = field(default_factory=dict)  # kind -> sum, for topup / promo / admin_credit
    refunds: int = 0
    refund_rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def margin(self) -> int:
        """Revenue minus cost, over the orders whose cost is known."""
        return self.revenue - self.unknown_cost_revenue - self.cost


class Audit:
    def __init__(self, db: Database, pricing: Pricing) -> None:
        self.db = db
        self.pricing = pricing

    async def run(self, days: int = 30) -> AuditReport:
        report = AuditReport(days=days, since=datetime.now(UTC) - timedelta(days=days))
        since = iso(report.since)
        async with self.db.read() as conn:
            for user_id, cached, total in await ledger.discrepancies(conn):
                report.issues.append(Issue("balance", user_id, expected=total, found=cached))
            for user_id, balance in await q.negative_balances(conn):
                report.issues.append(Issue("negative", user_id, found=balance))
            charges = await q.order_money(conn, "charge")
            refunds = await q.order_money(conn, "refund")
            orphans = await q.orphan_rows(conn)
            groups = await q.earned(conn, since)
            topups = await q.totals_by_kind(conn, q.TOPUP_KINDS, since)
            refunded = await q.totals_by_kind(conn, ("refund",), since)
        for row in charges:
            if row.rows != 1 or row.total != -row.price:
                report.issues.append(Issue("charge", row.order_id, row.price, -row.total, row.status))
        for row in refunds:
            report.issues.extend(_refund_issues(row))
        report.issues.extend(Issue("orphan", ledger_id, detail=reference) for ledger_id, reference in orphans)
        for group in groups:
            converted = self.pricing.convert(group.cost, group.currency) if group.currency else None
            report.orders += group.orders
            report.revenue += group.revenue
            if converted is None:
                report.unknown_cost_orders += group.orders
                report.unknown_cost_revenue += group.revenue
            else:
                report.cost += converted
        report.topups = {kind: total for kind, (_, total) in topups.items()}
        report.refund_rows, report.refunds = refunded.get("refund", (0, 0))
        if report.issues:
            logger.warning("audit found %d discrepancies", len(report.issues))
        return report


def _refund_issues(row: q.MoneyRow) -> list[Issue]:
    if row.status in q.REFUNDED:
        if row.rows == 0:
            return [Issue("no_refund", row.order_id, row.price, 0, row.status)]
        if row.rows != 1 or row.total != row.price:
            return [Issue("bad_refund", row.order_id, row.price, row.total, row.status)]
    elif row.rows:
        return [Issue("stray_refund", row.order_id, 0, row.total, row.status)]
    return []
