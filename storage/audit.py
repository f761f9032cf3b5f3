"""Read-only queries for the money audit: contradictions between orders, ledger and balances, and
period totals. The caller holds the connection (``Database.read``)."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

#: order statuses whose price was given back; those that earned it; credits counted as top-ups
REFUNDED = ("cancelled", "expired", "failed")
EARNED = ("code_received", "completed")
TOPUP_KINDS = ("topup", "promo", "admin_credit")


@dataclass(frozen=True, slots=True)
class MoneyRow:
    """One order with its ``order:<id>:<what>`` ledger rows: how many, and their sum."""

    order_id: int
    status: str
    price: int
    rows: int
    total: int


@dataclass(frozen=True, slots=True)
class CostGroup:
    """Orders that kept their money in the period, per upstream cost currency (None: cost unknown)."""

    currency: str | None
    orders: int
    revenue: int  # bot currency minor units
    cost: int  # upstream currency minor units (0 when the cost is unknown)


def _marks(values: tuple[str, ...]) -> str:
    return ", ".join("?" for _ in values)


async def negative_balances(conn: aiosqlite.Connection) -> list[tuple[int, int]]:
    async with conn.execute("SELECT id, balance FROM users WHERE balance < 0 ORDER BY id") as cur:
        return [(r[0], r[1]) for r in await cur.fetchall()]


async def order_money(conn: aiosqlite.Connection, what: str) -> list[MoneyRow]:
    """Every order with its ``order:<id>:<what>`` rows (``what`` is ``charge`` or ``refund``)."""
    async with conn.execute(
        """
        SELECT o.id, o.status, o.price, COUNT(l.id), COALESCE(SUM(l.amount), 0)
        FROM orders o LEFT JOIN ledger l ON l.reference = 'order:' || o.id || ':' || ?
        GROUP BY o.id ORDER BY o.id
        """,
        (what,),
    ) as cur:
        return [MoneyRow(r[0], r[1], r[2], r[3], r[4]) for r in await cur.fetchall()]


async def orphan_rows(conn: aiosqlite.Connection) -> list[tuple[int, str]]:
    """``(ledger id, reference)`` of rows whose order id (column or ``order:<id>:…``) has no order."""
    async with conn.execute(
        """
        SELECT l.id, l.reference FROM ledger l
        WHERE (l.order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = l.order_id))
           OR (l.reference LIKE 'order:%' AND NOT EXISTS (
                SELECT 1 FROM orders o
                WHERE o.id = CAST(substr(l.reference, 7, instr(substr(l.reference, 7), ':') - 1) AS INTEGER)))
        ORDER BY l.id
        """
    ) as cur:
        return [(r[0], r[1]) for r in await cur.fetchall()]


async def earned(conn: aiosqlite.Connection, since: str) -> list[CostGroup]:
    """Orders created since ``since`` that kept their money, per upstream cost currency."""
    async with conn.execute(
        f"""
        SELECT CASE WHEN cost IS NULL THEN NULL ELSE cost_currency END AS currency, COUNT(*), SUM(price),
               COALESCE(SUM(cost), 0)
        FROM orders WHERE status IN ({_marks(EARNED)}) AND created_at >= ?
        GROUP BY currency ORDER BY currency
        """,
        (*EARNED, since),
    ) as cur:
        return [CostGroup(r[0], r[1], r[2], r[3]) for r in await cur.fetchall()]


async def totals_by_kind(conn: aiosqlite.Connection, kinds: tuple[str, ...], since: str) -> dict[str, tuple[int, int]]:
    """``kind -> (rows, sum of amounts)`` for ledger rows of ``kinds`` posted since ``since``."""
    async with conn.execute(
        f"SELECT kind, COUNT(*), SUM(amount) FROM ledger WHERE kind IN ({_marks(kinds)}) AND created_at >= ? "
        "GROUP BY kind",
        (*kinds, since),
    ) as cur:
        return {r[0]: (r[1], r[2]) for r in await cur.fetchall()}
