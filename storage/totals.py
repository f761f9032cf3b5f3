"""Read-only aggregates for the metrics page: orders by status, upstream purchases by upstream and
outcome, write-offs by reason, refunds by upstream, balances and ledger totals.

A handful of ``GROUP BY`` queries over whole tables, run when ``/metrics`` is scraped (and cached
there, see :mod:`bot.runtime.shop_metrics`), so the figures come from the database and survive a
restart. Nothing is grouped by user. Amounts are integer minor units: prices, balances and ledger
amounts in the bot's currency, upstream costs in each purchase's ``cost_currency``. The caller holds
the connection (``Database.read``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiosqlite

from storage.rows import fetch_all, fetch_one


@dataclass(frozen=True, slots=True)
class Count:
    """How many rows, and the sum of their amounts (minor units)."""

    rows: int
    amount: int


@dataclass(frozen=True, slots=True)
class PurchaseGroup:
    """Upstream purchases of one upstream, kind and outcome (``open`` while none), costs in ``currency``."""

    upstream: str
    kind: str  # number | renewal
    outcome: str  # open | sold | upstream_refunded | written_off
    currency: str  # the cost's; "" when unknown
    rows: int
    cost: int  # sum of the known costs


@dataclass(frozen=True, slots=True)
class Balances:
    users: int
    with_balance: int  # users whose balance is above zero
    total: int  # sum of every balance, minor units


@dataclass(slots=True)
class Totals:
    orders: dict[str, Count] = field(default_factory=dict)  # status -> orders, sum of prices
    purchases: list[PurchaseGroup] = field(default_factory=list)
    write_offs: dict[tuple[str, str], int] = field(default_factory=dict)  # (upstream, reason) -> purchases
    refunds: dict[str, Count] = field(default_factory=dict)  # upstream -> refund ledger rows, their sum
    ledger: dict[str, Count] = field(default_factory=dict)  # ledger kind -> rows, sum of amounts
    balances: Balances = field(default_factory=lambda: Balances(0, 0, 0))


async def orders_by_status(conn: aiosqlite.Connection) -> dict[str, Count]:
    rows = await fetch_all(
        conn, "SELECT status, COUNT(*), COALESCE(SUM(price), 0) FROM orders GROUP BY status", (), tuple
    )
    return {status: Count(n, total) for status, n, total in rows}


async def purchases_by_upstream(conn: aiosqlite.Connection) -> list[PurchaseGroup]:
    return await fetch_all(
        conn,
        """
        SELECT provider, kind, COALESCE(outcome, 'open'), COALESCE(cost_currency, ''), COUNT(*),
               COALESCE(SUM(cost), 0)
        FROM upstream_purchases GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        """,
        (),
        lambda r: PurchaseGroup(*r),
    )


async def write_offs(conn: aiosqlite.Connection) -> dict[tuple[str, str], int]:
    """Purchases the operator bore the cost of, by upstream and reason (``storage.purchases.WriteOff``)."""
    rows = await fetch_all(
        conn,
        "SELECT provider, COALESCE(reason, ''), COUNT(*) FROM upstream_purchases WHERE outcome = 'written_off' "
        "GROUP BY 1, 2",
        (),
        tuple,
    )
    return {(upstream, reason): n for upstream, reason, n in rows}


async def refunds_by_upstream(conn: aiosqlite.Connection) -> dict[str, Count]:
    """Refunds to users (ledger kind ``refund``: orders' and renewals') by the order's upstream."""
    rows = await fetch_all(
        conn,
        "SELECT o.provider, COUNT(*), SUM(l.amount) FROM ledger l JOIN orders o ON o.id = l.order_id "
        "WHERE l.kind = 'refund' GROUP BY o.provider",
        (),
        tuple,
    )
    return {upstream: Count(n, total) for upstream, n, total in rows}


async def ledger_by_kind(conn: aiosqlite.Connection) -> dict[str, Count]:
    rows = await fetch_all(conn, "SELECT kind, COUNT(*), SUM(amount) FROM ledger GROUP BY kind", (), tuple)
    return {kind: Count(n, total) for kind, n, total in rows}


async def balances(conn: aiosqlite.Connection) -> Balances:
    found = await fetch_one(
        conn,
        "SELECT COUNT(*), COALESCE(SUM(balance > 0), 0), COALESCE(SUM(balance), 0) FROM users",
        (),
        lambda r: Balances(*r),
    )
    return found or Balances(0, 0, 0)


async def totals(conn: aiosqlite.Connection) -> Totals:
    """Every aggregate, under the caller's one read (so they agree with each other)."""
    return Totals(
        orders=await orders_by_status(conn),
        purchases=await purchases_by_upstream(conn),
        write_offs=await write_offs(conn),
        refunds=await refunds_by_upstream(conn),
        ledger=await ledger_by_kind(conn),
        balances=await balances(conn),
    )
