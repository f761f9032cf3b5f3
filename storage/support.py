"""Queries of /paysupport. Functions take a connection; the caller owns the transaction.

A row of ``support_threads`` is one bot message in an admin's chat that carries a user's /paysupport
message (the header with their orders, or the copy of what they wrote): an admin's reply to it is
delivered to ``user_id``. Every row of one support message has the same ``created_at`` (the caller
stamps it), so counting the distinct stamps counts the messages a user sent, whatever the number of
admins.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.rows import Record, fetch_all, fetch_value


@dataclass(frozen=True, slots=True)
class StarCharge:
    """A Telegram Stars payment as support needs to see it (to refund it by its charge id)."""

    charge_id: str
    stars: int
    status: str
    created_at: str


_charge = Record(StarCharge)


async def add(
    conn: aiosqlite.Connection, *, admin_chat_id: int, admin_message_id: int, user_id: int, created_at: str
) -> None:
    """Remember that the bot message ``admin_message_id`` in ``admin_chat_id`` carries ``user_id``'s words."""
    await conn.execute(
        """
        INSERT INTO support_threads (admin_chat_id, admin_message_id, user_id, created_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (admin_chat_id, admin_message_id) DO UPDATE SET user_id = excluded.user_id
        """,
        (admin_chat_id, admin_message_id, user_id, created_at),
    )


async def user_of(conn: aiosqlite.Connection, admin_chat_id: int, admin_message_id: int) -> int | None:
    """Whose words the bot message ``admin_message_id`` in ``admin_chat_id`` carries; None: not a support message."""
    value = await fetch_value(
        conn,
        "SELECT user_id FROM support_threads WHERE admin_chat_id = ? AND admin_message_id = ?",
        (admin_chat_id, admin_message_id),
    )
    return int(value) if value is not None else None


async def sent_since(conn: aiosqlite.Connection, user_id: int, since: str) -> int:
    """How many support messages ``user_id`` sent at or after ``since`` (ISO, as stored)."""
    value = await fetch_value(
        conn,
        "SELECT COUNT(DISTINCT created_at) FROM support_threads WHERE user_id = ? AND created_at >= ?",
        (user_id, since),
    )
    return int(value or 0)


async def star_charges(conn: aiosqlite.Connection, user_id: int, limit: int = 5) -> list[StarCharge]:
    """The user's latest Stars payments, newest first."""
    return await fetch_all(
        conn,
        """
        SELECT charge_id, stars, status, created_at FROM payments WHERE user_id = ?
        ORDER BY created_at DESC, charge_id DESC LIMIT ?
        """,
        (user_id, limit),
        _charge,
    )
