"""Queries of the referral programme: who invited whom (``users.referrer_id``) and the bonuses paid
(ledger rows of kind ``referral``, reference ``referral:<order id>``). The caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.rows import fetch_all, fetch_one, fetch_value, returns_row

#: the ledger kind of a referral bonus
KIND = "referral"


def reference(order_id: int) -> str:
    """The bonus's ledger reference: one per order, so a replay posts nothing."""
    return f"referral:{order_id}"


@dataclass(frozen=True, slots=True)
class Inviter:
    id: int
    is_banned: bool


@dataclass(frozen=True, slots=True)
class Totals:
    """What a user's invitations brought: people bound to them, bonuses credited, and their sum."""

    joined: int
    bonuses: int
    earned: int


async def inviter(conn: aiosqlite.Connection, user_id: int) -> Inviter | None:
    """The user as an inviter (their ban), or None for someone never seen."""
    return await fetch_one(
        conn, "SELECT id, is_banned FROM users WHERE id = ?", (user_id,), lambda r: Inviter(r[0], bool(r[1]))
    )


async def inviter_of(conn: aiosqlite.Connection, user_id: int) -> Inviter | None:
    """Who invited ``user_id``; None for someone nobody invited."""
    return await fetch_one(
        conn,
        "SELECT r.id, r.is_banned FROM users u JOIN users r ON r.id = u.referrer_id WHERE u.id = ?",
        (user_id,),
        lambda r: Inviter(r[0], bool(r[1])),
    )


async def chain(conn: aiosqlite.Connection, user_id: int) -> set[int]:
    """Everyone above ``user_id``: their inviter, that one's inviter, and so on (a cycle ends the walk)."""
    ids = await fetch_all(
        conn,
        """
        WITH RECURSIVE above(id) AS (
            SELECT referrer_id FROM users WHERE id = ? AND referrer_id IS NOT NULL
            UNION
            SELECT u.referrer_id FROM users u JOIN above a ON u.id = a.id WHERE u.referrer_id IS NOT NULL
        )
        SELECT id FROM above
        """,
        (user_id,),
        lambda r: int(r[0]),
    )
    return set(ids)


async def is_newcomer(conn: aiosqlite.Connection, user_id: int) -> bool:
    """The user has no inviter yet, never ordered, and no money ever moved on their balance."""
    found = await fetch_value(
        conn,
        """
        SELECT 1 FROM users u WHERE u.id = ? AND u.referrer_id IS NULL
            AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)
            AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.user_id = u.id)
        """,
        (user_id,),
    )
    return found is not None


async def bind(conn: aiosqlite.Connection, user_id: int, inviter_id: int) -> bool:
    """Set the user's inviter, only where none is set yet; whether it was set."""
    return await returns_row(
        conn,
        "UPDATE users SET referrer_id = ? WHERE id = ? AND referrer_id IS NULL RETURNING id",
        (inviter_id, user_id),
    )


async def totals(conn: aiosqlite.Connection, user_id: int) -> Totals:
    joined = await fetch_value(conn, "SELECT COUNT(*) FROM users WHERE referrer_id = ?", (user_id,))
    rows = await fetch_one(
        conn,
        "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM ledger WHERE user_id = ? AND kind = ?",
        (user_id, KIND),
        tuple,
    )
    bonuses, earned = rows or (0, 0)
    return Totals(int(joined or 0), int(bonuses), int(earned))


async def stray_bonuses(conn: aiosqlite.Connection) -> list[tuple[int, str]]:
    """``(ledger id, reference)`` of referral bonuses that contradict their order: not completed, not
    to the buyer's inviter, or not between zero and the order's price (for the audit)."""
    return await fetch_all(
        conn,
        """
        SELECT l.id, l.reference FROM ledger l
        LEFT JOIN orders o ON o.id = l.order_id
        LEFT JOIN users buyer ON buyer.id = o.user_id
        WHERE l.kind = ? AND (
            o.id IS NULL OR o.status != 'completed' OR buyer.referrer_id IS DISTINCT FROM l.user_id
            OR l.reference != 'referral:' || o.id OR l.amount <= 0 OR l.amount > o.price)
        ORDER BY l.id
        """,
        (KIND,),
        tuple,
    )
