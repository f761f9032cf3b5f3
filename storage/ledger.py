"""The append-only money ledger. ``users.balance`` is its running sum, kept in the same statement set.

Every function expects to run inside the caller's transaction (``Database.transaction``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import aiosqlite

from providers.money import MONEY_BOUND
from storage.rows import Record, fetch_all, fetch_one, fetch_value

#: the start of every message of migration 6's triggers, which refuse a float or an out-of-range amount
OUT_OF_RANGE = "money out of range"


class InsufficientFunds(Exception):
    """A debit would take the balance below zero; nothing was written."""


class OutOfRange(ValueError):
    """The amount, or the balance it would make, is beyond ``MONEY_BOUND``; nothing was written."""


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    user_id: int
    amount: int
    balance_after: int
    kind: str
    reference: str
    order_id: int | None
    reason: str | None
    created_at: str


_entry = Record(Entry)


async def post(
    conn: aiosqlite.Connection,
    *,
    user_id: int,
    amount: int,
    kind: str,
    reference: str,
    order_id: int | None = None,
    actor_id: int | None = None,
    reason: str | None = None,
) -> Entry | None:
    """Add ``amount`` (negative for a debit) to the user's balance with its ledger row.

    Returns None, changing nothing, when ``reference`` was already posted: a replayed credit or a
    second refund is a no-op. Raises InsufficientFunds when the balance would go negative, and
    OutOfRange when the amount or the new balance would be beyond ``MONEY_BOUND``.
    """
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise ValueError(f"amount must be a non-zero int of minor units, got {amount!r}")
    if abs(amount) > MONEY_BOUND:
        raise OutOfRange(f"amount {amount} is beyond {MONEY_BOUND} minor units")
    if await exists(conn, reference):
        return None
    try:
        balance = await fetch_value(
            conn, "UPDATE users SET balance = balance + ? WHERE id = ? RETURNING balance", (amount, user_id)
        )
    except sqlite3.IntegrityError as exc:
        # which CHECK refused follows from the sign (a credit cannot go below 0, a debit from >= 0 not past
        # the bound): the same on both dialects, whatever each names its constraints or words its message
        if amount > 0:  # the balance would pass MONEY_BOUND
            raise OutOfRange(f"user {user_id}: balance plus {amount} is beyond {MONEY_BOUND}") from exc
        raise InsufficientFunds(f"user {user_id} cannot pay {-amount}") from exc  # CHECK (balance >= 0)
    if balance is None:
        raise LookupError(f"no user {user_id}")
    entry = await fetch_one(
        conn,
        """
        INSERT INTO ledger (user_id, amount, balance_after, kind, reference, order_id, actor_id, reason)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *
        """,
        (user_id, amount, balance, kind, reference, order_id, actor_id, reason),
        _entry,
    )
    assert entry is not None
    return entry


async def recent(conn: aiosqlite.Connection, user_id: int, limit: int = 5) -> list[Entry]:
    return await fetch_all(
        conn, "SELECT * FROM ledger WHERE user_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit), _entry
    )


async def exists(conn: aiosqlite.Connection, reference: str) -> bool:
    return await fetch_value(conn, "SELECT 1 FROM ledger WHERE reference = ?", (reference,)) is not None


async def discrepancies(conn: aiosqlite.Connection) -> list[tuple[int, int, int]]:
    """``(user_id, cached balance, ledger sum)`` for every user where the two differ."""
    async with conn.execute(
        """
        SELECT u.id, u.balance, COALESCE(SUM(l.amount), 0) AS total
        FROM users u LEFT JOIN ledger l ON l.user_id = u.id
        GROUP BY u.id, u.balance HAVING u.balance != COALESCE(SUM(l.amount), 0)
        """
    ) as cur:
        return [(r[0], r[1], r[2]) for r in await cur.fetchall()]
