"""Upstream purchases: every number (or renewal) bought upstream and the one outcome it ended in.

The operator's side of the money. A row is written in the same transaction as the order change
that learned of the purchase; its outcome is set once (a trigger refuses a second):

* ``sold`` — the user kept the charge (a code was delivered, or the terms said non-refundable);
* ``upstream_refunded`` — the upstream confirmed the cancel (or closed the order itself) and gave
  the cost back;
* ``written_off`` — the operator bears the cost; ``reason`` says why (:class:`WriteOff`).

The caller owns the transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import aiosqlite

from storage.rows import Record, fetch_all, fetch_one, fetch_value, optional, returns_row
from storage.timestamps import stored_now


class Outcome(enum.StrEnum):
    SOLD = "sold"
    UPSTREAM_REFUNDED = "upstream_refunded"
    WRITTEN_OFF = "written_off"


class WriteOff(enum.StrEnum):
    """Why the operator bears an upstream purchase's cost."""

    NO_CANCEL = "no_cancel"  # the user was refunded (cancel, expiry) and the upstream has no cancel
    CANCEL_REFUSED = "cancel_refused"  # expiry without a code; the upstream refused the cancel
    CANCEL_FAILED = "cancel_failed"  # the upstream could not be reached to cancel before we refunded
    ORPHANED = "orphaned"  # bought for an order that was already settled; it could not be cancelled
    UNCLEAR = "unclear"  # a paid request with no clear answer, never found upstream; the user refunded
    RENEWAL_UNCLEAR = "renewal_unclear"  # a renewal with no clear answer; the user refunded


#: write-offs that a user's own actions caused, counted against ``WRITE_OFF_LIMIT_PER_DAY`` (an
#: upstream that refused or could not take a cancel is the upstream's doing, not the user's)
USER_CAUSED = (WriteOff.NO_CANCEL,)


@dataclass(frozen=True, slots=True)
class Purchase:
    id: int
    order_id: int
    user_id: int
    kind: str  # number | renewal
    provider: str
    upstream_id: str | None
    reference: str
    cost: int | None
    cost_currency: str | None
    outcome: Outcome | None
    reason: str | None


_purchase = Record(Purchase, outcome=optional(Outcome))


def number_reference(order_id: int, provider: str, upstream_id: str | None) -> str:
    return f"order:{order_id}:{provider}:{upstream_id if upstream_id is not None else 'unclear'}"


async def record(
    conn: aiosqlite.Connection,
    *,
    order_id: int,
    user_id: int,
    provider: str,
    upstream_id: str | None,
    cost: int | None,
    cost_currency: str | None,
    kind: str = "number",
    reference: str | None = None,
) -> Purchase | None:
    """Record a purchase (outcome still open); None when this reference was already recorded."""
    reference = reference or number_reference(order_id, provider, upstream_id)
    return await fetch_one(
        conn,
        """
        INSERT INTO upstream_purchases (order_id, user_id, kind, provider, upstream_id, reference, cost, cost_currency)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (reference) DO NOTHING RETURNING *
        """,
        (order_id, user_id, kind, provider, upstream_id, reference, cost, cost_currency),
        _purchase,
    )


async def settle(
    conn: aiosqlite.Connection, purchase_id: int, outcome: Outcome, reason: WriteOff | None = None
) -> bool:
    """Set the outcome of a purchase still open; False when it already had one."""
    if (outcome is Outcome.WRITTEN_OFF) != (reason is not None):
        raise ValueError("a write-off, and only a write-off, has a reason")
    return await returns_row(
        conn,
        "UPDATE upstream_purchases SET outcome = ?, reason = ?, settled_at = ? "
        "WHERE id = ? AND outcome IS NULL RETURNING id",
        (outcome.value, reason.value if reason else None, stored_now(), purchase_id),
    )


async def open_of_order(conn: aiosqlite.Connection, order_id: int, kind: str = "number") -> list[Purchase]:
    return await fetch_all(
        conn,
        "SELECT * FROM upstream_purchases WHERE order_id = ? AND kind = ? AND outcome IS NULL ORDER BY id",
        (order_id, kind),
        _purchase,
    )


async def settle_order(
    conn: aiosqlite.Connection, order_id: int, outcome: Outcome, reason: WriteOff | None = None, kind: str = "number"
) -> int:
    """Settle every open purchase of one order's kind; how many were settled."""
    settled = 0
    for purchase in await open_of_order(conn, order_id, kind):
        settled += await settle(conn, purchase.id, outcome, reason)
    return settled


async def of_order(conn: aiosqlite.Connection, order_id: int) -> list[Purchase]:
    return await fetch_all(
        conn, "SELECT * FROM upstream_purchases WHERE order_id = ? ORDER BY id", (order_id,), _purchase
    )


async def by_reference(conn: aiosqlite.Connection, reference: str) -> Purchase | None:
    return await fetch_one(conn, "SELECT * FROM upstream_purchases WHERE reference = ?", (reference,), _purchase)


async def user_write_offs(conn: aiosqlite.Connection, user_id: int, since: str) -> int:
    """Write-offs caused by ``user_id`` settled since ``since`` (ISO), for the per-day limit."""
    marks = ", ".join("?" for _ in USER_CAUSED)
    return int(
        await fetch_value(
            conn,
            f"SELECT COUNT(*) FROM upstream_purchases WHERE user_id = ? AND outcome = 'written_off' "
            f"AND reason IN ({marks}) AND settled_at >= ?",
            (user_id, *USER_CAUSED, since),
            0,
        )
    )


async def unsettled(conn: aiosqlite.Connection) -> list[Purchase]:
    """Purchases with no outcome yet (their orders are open, or a settlement is still owed)."""
    return await fetch_all(conn, "SELECT * FROM upstream_purchases WHERE outcome IS NULL ORDER BY id", (), _purchase)
