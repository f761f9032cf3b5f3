"""The operator's statistics: users, orders, money kept, upstream cost and margin, delivery quality."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.pricing import Pricing
from storage import stats as q
from storage.db import Database
from storage.orders import iso, parse_iso

PERIODS = ("today", "week", "all")


@dataclass(frozen=True, slots=True)
class Money:
    revenue: int  # bot currency minor units: prices of orders that got a code
    cost: int  # what those orders cost upstream, converted to the bot currency
    unpriced: int  # kept orders whose cost is unknown or has no rate (left out of ``cost``)

    @property
    def margin(self) -> int:
        return self.revenue - self.cost


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
    users: q.UserCounts
    orders: dict[str, dict[str, int]]  # period -> status -> count
    money: dict[str, Money]  # period -> figures
    by_provider: list[Quality]
    by_service: list[Quality]
    by_country: list[Quality]


def _money(kept: Iterable[q.KeptOrder], pricing: Pricing) -> Money:
    revenue = cost = unpriced = 0
    for order in kept:
        revenue += order.price
        converted = (
            pricing.convert(order.cost, order.cost_currency) if order.cost is not None and order.cost_currency else None
        )
        if converted is None:
            unpriced += 1
        else:
            cost += converted
    return Money(revenue, cost, unpriced)


def quality(rows: list[q.Delivery], key: Callable[[q.Delivery], str]) -> list[Quality]:
    """Share with a code and median time to code per group, most orders first."""
    groups: dict[str, list[q.Delivery]] = {}
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
    def __init__(self, db: Database, pricing: Pricing) -> None:
        self.db = db
        self.pricing = pricing

    async def report(self, now: datetime | None = None) -> Report:
        now = now or datetime.now(UTC)
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        since = {"today": iso(midnight), "week": iso(now - timedelta(days=7)), "all": None}
        async with self.db.read() as conn:
            users = await q.user_counts(conn, iso(now - timedelta(days=1)), iso(now - timedelta(days=7)))
            orders = {p: await q.orders_by_status(conn, since[p]) for p in PERIODS}
            kept = await q.kept_orders(conn)
            rows = await q.deliveries(conn)
        money = {p: _money((k for k in kept if k.created_at >= (since[p] or "")), self.pricing) for p in PERIODS}
        return Report(
            users=users,
            orders=orders,
            money=money,
            by_provider=quality(rows, lambda r: r.provider),
            by_service=quality(rows, lambda r: r.service),
            by_country=quality(rows, lambda r: r.country),
        )
