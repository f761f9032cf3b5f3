"""The operator's statistics: users, orders, money kept, upstream cost, write-offs and margin, delivery quality.

The money is :func:`bot.audit.books` per period, the same figures as ``/audit``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.money.audit import Books, books
from bot.money.pricing import Pricing
from storage import audit as money_q
from storage import stats as stats_queries
from storage.backends import Store
from storage.orders import iso, parse_iso

PERIODS = ("today", "week", "all")


@dataclass(frozen=True, slots=True)
class Quality:
    key: str  # upstream name, service slug or country code
    orders: int  # orders whose outcome is known
    with_code: int
    median_seconds: float | None  # order created -> first SMS

    @property
    def share(self) -> int:
        """Percent of orders that got a code, rounded down."""
        return self.with_code * 100 // self.orders if self.orders else 0


@dataclass(frozen=True, slots=True)
class Report:
    users: stats_queries.UserCounts
    orders: dict[str, dict[str, int]]  # period -> status -> count
    money: dict[str, Books]  # period -> revenue, cost, write-offs, margin
    by_provider: list[Quality]
    by_service: list[Quality]
    by_country: list[Quality]


def quality(rows: list[stats_queries.Delivery], key: Callable[[stats_queries.Delivery], str]) -> list[Quality]:
    """Share with a code and median time to code per group, most orders first."""
    groups: dict[str, list[stats_queries.Delivery]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    result = []
    for name, items in groups.items():
        waits = [
            max((parse_iso(r.first_sms_at) - parse_iso(r.created_at)).total_seconds(), 0.0)
            for r in items
            if r.first_sms_at is not None
        ]
        median = statistics.median(waits) if waits else None
        result.append(Quality(name, len(items), len(waits), median))
    return sorted(result, key=lambda g: (-g.orders, g.key))


class Stats:
    def __init__(self, db: Store, pricing: Pricing) -> None:
        self.db = db
        self.pricing = pricing

    async def report(self, now: datetime | None = None) -> Report:
        now = now or datetime.now(UTC)
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        since = {"today": iso(midnight), "week": iso(now - timedelta(days=7)), "all": None}
        async with self.db.read() as conn:
            users = await stats_queries.user_counts(conn, iso(now - timedelta(days=1)), iso(now - timedelta(days=7)))
            orders = {p: await stats_queries.orders_by_status(conn, since[p]) for p in PERIODS}
            sales = await money_q.sales(conn)
            purchases = await money_q.purchase_costs(conn)
            rows = await stats_queries.deliveries(conn)
        money = {
            p: books(
                (s for s in sales if s.created_at >= (since[p] or "")),
                (c for c in purchases if c.created_at >= (since[p] or "")),
                self.pricing,
            )
            for p in PERIODS
        }
        return Report(
            users=users,
            orders=orders,
            money=money,
            by_provider=quality(rows, lambda r: r.provider),
            by_service=quality(rows, lambda r: r.service),
            by_country=quality(rows, lambda r: r.country),
        )
