"""Read-only queries for the money audit: contradictions between orders, renewals, upstream
purchases, ledger and balances, and the period's sales and purchases. The caller holds the
connection (``Database.read``)."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.rows import Record, fetch_all

#: order statuses that ended an order; credits counted as top-ups
CLOSED = ("completed", "cancelled", "expired", "failed")
TOPUP_KINDS = ("topup", "promo", "admin_credit")

#: SQL: the order ``o`` kept its price (a code arrived, or it was non-refundable and ended without one)
KEPT_SQL = "(o.status IN ('code_received', 'completed') OR (o.status IN ('cancelled', 'expired') AND o.refundable = 0))"
#: SQL: the order ``o`` gave its price back (failed always does; cancelled / expired when refundable)
REFUNDED_SQL = "(o.status = 'failed' OR (o.status IN ('cancelled', 'expired') AND o.refundable = 1))"
#: SQL: the order id of ledger row ``l``'s reference ``order:<id>:…``, NULL without digits. Portable (PostgreSQL has
#: no ``instr``, SQLite no ``split_part``): the digits are what ``ltrim`` takes off; over 18 would overflow a BIGINT
_AFTER = "substr(l.reference, 7)"
_DIGITS = f"substr({_AFTER}, 1, length({_AFTER}) - length(ltrim({_AFTER}, '0123456789')))"
REFERENCE_ORDER_SQL = f"(CASE WHEN length({_DIGITS}) BETWEEN 1 AND 18 THEN CAST({_DIGITS} AS BIGINT) END)"


def refunded(status: str, refundable: bool) -> bool:
    """Whether an order in ``status`` owes its user the price back (the Python twin of REFUNDED_SQL)."""
    return status == "failed" or (status in ("cancelled", "expired") and refundable)


@dataclass(frozen=True, slots=True)
class MoneyRow:
    """One order with its ``order:<id>:<what>`` ledger rows: how many, and their sum."""

    order_id: int
    status: str
    price: int
    rows: int
    total: int
    refundable: bool = True


@dataclass(frozen=True, slots=True)
class RenewalMoney:
    """One renewal with its charge rows (its reference) and refund rows (``<reference>:refund``)."""

    renewal_id: int
    order_id: int
    status: str  # pending | unknown | done | refunded
    price: int
    charge_rows: int
    charged: int  # sum of the charge rows (negative)
    refund_rows: int
    refunded: int


@dataclass(frozen=True, slots=True)
class PurchaseIssue:
    """An upstream purchase whose outcome contradicts its order.

    ``problem``: ``unsettled`` (no outcome, the order is closed), ``sold_refunded`` (the user got the
    price back, the purchase says sold), ``kept_written_off`` / ``kept_upstream_refunded`` (the
    order kept its price, the purchase says the operator bore or got back its cost).
    """

    problem: str
    purchase_id: int
    order_id: int
    status: str  # the order's


@dataclass(frozen=True, slots=True)
class Sale:
    """A price the bot kept: an order's, or a renewal's once the upstream confirmed it."""

    kind: str  # number | renewal
    order_id: int
    reference: str | None  # the renewal's (its upstream purchase has the same); None for an order
    price: int  # bot currency minor units
    created_at: str
    recorded: bool  # its upstream purchase is recorded; False for sales from before purchases were
    legacy_cost: int | None  # the order's own cost, used only when ``recorded`` is False
    legacy_currency: str | None


@dataclass(frozen=True, slots=True)
class PurchaseCost:
    """An upstream purchase with its cost and outcome, dated by its order or renewal."""

    id: int
    order_id: int
    user_id: int
    kind: str  # number | renewal
    provider: str
    reference: str
    cost: int | None  # upstream currency minor units
    cost_currency: str | None
    outcome: str | None  # sold | upstream_refunded | written_off; None while open
    reason: str | None  # storage.purchases.WriteOff, for a write-off
    created_at: str


def _marks(values: tuple[str, ...]) -> str:
    return ", ".join("?" for _ in values)


async def negative_balances(conn: aiosqlite.Connection) -> list[tuple[int, int]]:
    return await fetch_all(conn, "SELECT id, balance FROM users WHERE balance < 0 ORDER BY id", (), tuple)


async def order_money(conn: aiosqlite.Connection, what: str) -> list[MoneyRow]:
    """Every order with its ``order:<id>:<what>`` rows (``what`` is ``charge`` or ``refund``)."""
    return await fetch_all(
        conn,
        """
        SELECT o.id, o.status, o.price, COUNT(l.id), COALESCE(SUM(l.amount), 0), o.refundable
        FROM orders o LEFT JOIN ledger l ON l.reference = 'order:' || o.id || ':' || ?
        GROUP BY o.id ORDER BY o.id
        """,
        (what,),
        lambda r: MoneyRow(r[0], r[1], r[2], r[3], r[4], bool(r[5])),
    )


async def renewal_money(conn: aiosqlite.Connection) -> list[RenewalMoney]:
    """Every renewal with its charge and refund rows."""
    return await fetch_all(
        conn,
        """
        SELECT r.id, r.order_id, r.status, r.price,
               (SELECT COUNT(*) FROM ledger l WHERE l.reference = r.reference),
               (SELECT COALESCE(SUM(l.amount), 0) FROM ledger l WHERE l.reference = r.reference),
               (SELECT COUNT(*) FROM ledger l WHERE l.reference = r.reference || ':refund'),
               (SELECT COALESCE(SUM(l.amount), 0) FROM ledger l WHERE l.reference = r.reference || ':refund')
        FROM order_renewals r ORDER BY r.id
        """,
        (),
        lambda r: RenewalMoney(*r),
    )


async def _ledger_rows(conn: aiosqlite.Connection, where: str) -> list[tuple[int, str]]:
    """``(ledger id, reference)`` of the ledger rows ``l`` that match ``where``, by id."""
    return await fetch_all(conn, f"SELECT l.id, l.reference FROM ledger l WHERE {where} ORDER BY l.id", (), tuple)


async def orphan_rows(conn: aiosqlite.Connection) -> list[tuple[int, str]]:
    """``(ledger id, reference)`` of rows whose order id (column or ``order:<id>:…``) has no order."""
    return await _ledger_rows(
        conn,
        "(l.order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = l.order_id))"
        f" OR (l.reference LIKE 'order:%' AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = {REFERENCE_ORDER_SQL}))",
    )


async def orphan_renewal_rows(conn: aiosqlite.Connection) -> list[tuple[int, str]]:
    """``(ledger id, reference)`` of renewal charges or refunds (``order:<id>:renew:…``) of an
    existing order that match no renewal (rows of a missing order are :func:`orphan_rows`)."""
    return await _ledger_rows(
        conn,
        "l.reference LIKE 'order:%:renew:%' AND NOT EXISTS (SELECT 1 FROM order_renewals r"
        " WHERE l.reference = r.reference OR l.reference = r.reference || ':refund')"
        f" AND EXISTS (SELECT 1 FROM orders o WHERE o.id = {REFERENCE_ORDER_SQL})",
    )


async def purchase_issues(conn: aiosqlite.Connection) -> list[PurchaseIssue]:
    """Upstream purchases whose outcome contradicts their order, by order then purchase.

    A number purchase written off as ``orphaned``, or visibly another number than the order's
    (another upstream, or another upstream id), is an extra purchase and may sit on a kept order.
    """
    return await fetch_all(
        conn,
        f"""
        SELECT problem, id, order_id, status FROM (
            SELECT CASE
                     WHEN p.outcome IS NULL AND o.status IN ({_marks(CLOSED)}) THEN 'unsettled'
                     WHEN p.kind = 'number' AND p.outcome = 'sold' AND {REFUNDED_SQL} THEN 'sold_refunded'
                     WHEN p.kind = 'number' AND p.outcome IN ('written_off', 'upstream_refunded') AND {KEPT_SQL}
                          AND COALESCE(p.reason, '') != 'orphaned' AND p.provider = o.provider
                          AND (p.upstream_id IS NULL OR o.upstream_id IS NULL OR p.upstream_id = o.upstream_id)
                          THEN 'kept_' || p.outcome
                   END AS problem,
                   p.id, p.order_id, o.status
            FROM upstream_purchases p JOIN orders o ON o.id = p.order_id
        ) AS checked WHERE problem IS NOT NULL ORDER BY order_id, id
        """,
        CLOSED,
        lambda r: PurchaseIssue(*r),
    )


async def sales(conn: aiosqlite.Connection, since: str | None = None) -> list[Sale]:
    """Prices kept from orders and renewals created since ``since`` (everything when None)."""
    return await fetch_all(
        conn,
        f"""
        SELECT 'number', o.id, NULL, o.price, o.created_at,
               EXISTS (SELECT 1 FROM upstream_purchases p WHERE p.order_id = o.id AND p.kind = 'number'),
               o.cost, o.cost_currency
        FROM orders o WHERE {KEPT_SQL} AND o.created_at >= ?
        UNION ALL
        SELECT 'renewal', r.order_id, r.reference, r.price, r.created_at,
               EXISTS (SELECT 1 FROM upstream_purchases p WHERE p.reference = r.reference), NULL, NULL
        FROM order_renewals r WHERE r.status = 'done' AND r.created_at >= ?
        ORDER BY 5, 2
        """,
        (since or "", since or ""),
        lambda r: Sale(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7]),
    )


async def purchase_costs(conn: aiosqlite.Connection, since: str | None = None) -> list[PurchaseCost]:
    """Upstream purchases since ``since`` (everything when None), each dated by what it was bought
    for (its order, or its renewal), so its cost falls in the same period as that price."""
    return await fetch_all(
        conn,
        """
        SELECT * FROM (
            SELECT p.id, p.order_id, p.user_id, p.kind, p.provider, p.reference, p.cost, p.cost_currency,
                   p.outcome, p.reason,
                   CASE WHEN p.kind = 'number' THEN o.created_at
                        ELSE COALESCE((SELECT r.created_at FROM order_renewals r WHERE r.reference = p.reference),
                                      p.created_at)
                   END AS created_at
            FROM upstream_purchases p JOIN orders o ON o.id = p.order_id
        ) AS dated WHERE created_at >= ? ORDER BY id
        """,
        (since or "",),
        Record(PurchaseCost),
    )


async def totals_by_kind(conn: aiosqlite.Connection, kinds: tuple[str, ...], since: str) -> dict[str, tuple[int, int]]:
    """``kind -> (rows, sum of amounts)`` for ledger rows of ``kinds`` posted since ``since``."""
    async with conn.execute(
        f"SELECT kind, COUNT(*), SUM(amount) FROM ledger WHERE kind IN ({_marks(kinds)}) AND created_at >= ? "
        "GROUP BY kind",
        (*kinds, since),
    ) as cur:
        return {r[0]: (r[1], r[2]) for r in await cur.fetchall()}
