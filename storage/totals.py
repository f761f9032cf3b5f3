"""Read-only aggregates for the metrics page: orders by status, upstream purchases by upstream and
outcome, write-offs by reason, balances, and the ledger by kind with refunds by upstream.

They run when ``/metrics`` is scraped (cached there, see :mod:`bot.runtime.shop_metrics`), so the
figures come from the database and survive a restart. They scan whole tables, so they run on a
read-only connection of their own (:func:`reader`): in WAL mode it neither waits for nor holds up
the bot's connection and its lock, and aiosqlite runs it in its own thread. The ledger, the largest
table, is append-only: :func:`tally_ledger` reads only the rows added since the last tally. Nothing
is grouped by user. Amounts are integer minor units: prices, balances and ledger amounts in the
bot's currency, upstream costs in each purchase's ``cost_currency``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.request import pathname2url

import aiosqlite

from storage.rows import fetch_all, fetch_one, fetch_value


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
class LedgerTally:
    """The ledger's totals so far: kind -> rows and sum, and refunds to users (kind ``refund``: orders'
    and renewals') by the order's upstream, counted up to the row ``last_id``."""

    last_id: int = 0
    by_kind: dict[str, Count] = field(default_factory=dict)
    refunds: dict[str, Count] = field(default_factory=dict)


@dataclass(slots=True)
class Totals:
    orders: dict[str, Count] = field(default_factory=dict)  # status -> orders, sum of prices
    purchases: list[PurchaseGroup] = field(default_factory=list)
    write_offs: dict[tuple[str, str], int] = field(default_factory=dict)  # (upstream, reason) -> purchases
    balances: Balances = field(default_factory=lambda: Balances(0, 0, 0))
    ledger: LedgerTally = field(default_factory=LedgerTally)


@asynccontextmanager
async def reader(path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """A read-only connection to the database at ``path``, in one read transaction (one snapshot)."""
    conn = await aiosqlite.connect(f"file:{pathname2url(str(path))}?mode=ro", uri=True, isolation_level=None)
    try:
        await conn.execute("PRAGMA query_only=1")
        await conn.execute("BEGIN")
        yield conn
    finally:
        await conn.close()  # the read transaction ends with it


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


async def tally_ledger(conn: aiosqlite.Connection, tally: LedgerTally) -> None:
    """Add the ledger rows after ``tally.last_id`` to it. Sound because the ledger is append-only and a
    row's id is above every committed one's (one writer at a time, AUTOINCREMENT)."""
    top = await fetch_value(conn, "SELECT COALESCE(MAX(id), 0) FROM ledger")
    if top <= tally.last_id:
        return
    span = (tally.last_id, top)
    kinds = await fetch_all(
        conn, "SELECT kind, COUNT(*), SUM(amount) FROM ledger WHERE id > ? AND id <= ? GROUP BY kind", span, tuple
    )
    refunds = await fetch_all(
        conn,
        "SELECT o.provider, COUNT(*), SUM(l.amount) FROM ledger l JOIN orders o ON o.id = l.order_id "
        "WHERE l.id > ? AND l.id <= ? AND l.kind = 'refund' GROUP BY o.provider",
        span,
        tuple,
    )
    for into, rows in ((tally.by_kind, kinds), (tally.refunds, refunds)):
        for key, n, total in rows:
            was = into.get(key, Count(0, 0))
            into[key] = Count(was.rows + n, was.amount + total)
    tally.last_id = top


async def balances(conn: aiosqlite.Connection) -> Balances:
    found = await fetch_one(
        conn,
        "SELECT COUNT(*), COUNT(CASE WHEN balance > 0 THEN 1 END), COALESCE(SUM(balance), 0) FROM users",
        (),
        lambda r: Balances(*r),
    )
    return found or Balances(0, 0, 0)


async def totals(conn: aiosqlite.Connection, ledger: LedgerTally) -> Totals:
    """Every aggregate, in the caller's one read (so they agree with each other); ``ledger`` is brought
    up to date and kept in the result."""
    await tally_ledger(conn, ledger)
    return Totals(
        orders=await orders_by_status(conn),
        purchases=await purchases_by_upstream(conn),
        write_offs=await write_offs(conn),
        balances=await balances(conn),
        ledger=ledger,
    )
