"""Queries on broadcasts and their recipients. Functions take a connection; the caller owns the transaction.

Each recipient moves ``pending`` → ``sending`` → ``sent`` | ``unreachable`` | ``failed``; ``sending`` is
committed before the message goes out, so after a crash it names the few that may or may not have it.

A running broadcast is leased (``lease_owner`` / ``lease_until``, :mod:`storage.broadcast_leases`) to the
one replica that sends it. Only the holder claims recipients (:func:`claim` checks the lease and the status
in the same statement), so a cancel or a takeover committed by another replica stops the sender at its
next claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiosqlite

from storage.rows import Record, fetch_one, fetch_value
from storage.timestamps import stored_now

AUDIENCES = ("all", "active", "balance", "buyers")
FINAL = ("sent", "unreachable", "failed")
#: below every user id: where a sender's cursor starts, at the first recipient
FIRST = -(2**63)


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    admin_id: int
    from_chat_id: int
    message_id: int
    button_text: str | None
    button_url: str | None
    audience: str
    status: str
    progress_chat_id: int | None
    progress_message_id: int | None
    lease_owner: str | None = None  # the replica sending it, until ``lease_until`` unless renewed
    lease_until: str | None = None


@dataclass(frozen=True, slots=True)
class Counts:
    pending: int = 0
    sending: int = 0
    sent: int = 0
    unreachable: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.sending + self.sent + self.unreachable + self.failed


def audience_filter(audience: str) -> tuple[str, tuple[object, ...]]:
    """SQL condition on ``users`` for an audience (``all``, ``active:<days>``, ``balance``, ``buyers``)."""
    kind, _, arg = audience.partition(":")
    if kind == "all":
        return "TRUE", ()
    if kind == "active" and arg.isdigit() and int(arg) > 0:
        return "users.last_seen_at >= ?", (stored_now(datetime.now(UTC) - timedelta(days=int(arg))),)
    if kind == "balance":
        return "users.balance > 0", ()
    if kind == "buyers":
        return (
            "EXISTS (SELECT 1 FROM orders WHERE orders.user_id = users.id"
            " AND orders.status IN ('code_received', 'completed'))"
        ), ()
    raise ValueError(f"unknown audience {audience!r}")


async def audience_size(conn: aiosqlite.Connection, audience: str) -> int:
    where, args = audience_filter(audience)
    return int(
        await fetch_value(
            conn, f"SELECT COUNT(*) FROM users WHERE is_blocked = 0 AND is_banned = 0 AND {where}", args, 0
        )
    )


async def create(
    conn: aiosqlite.Connection,
    *,
    admin_id: int,
    from_chat_id: int,
    message_id: int,
    button: tuple[str, str] | None,
    audience: str,
    progress: tuple[int, int],
    lease: tuple[str, str] | None = None,
) -> tuple[int, int]:
    """A running broadcast with one pending recipient per user of the audience: ``(id, recipients)``.

    ``lease`` is ``(owner, until)``: the replica that creates it sends it, from the first recipient on.
    """
    where, args = audience_filter(audience)
    text, url = button if button else (None, None)
    owner, until = lease if lease else (None, None)
    broadcast_id = int(
        await fetch_value(
            conn,
            "INSERT INTO broadcasts (admin_id, from_chat_id, message_id, button_text, button_url, audience, status,"
            " progress_chat_id, progress_message_id, lease_owner, lease_until)"
            " VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?) RETURNING id",
            (admin_id, from_chat_id, message_id, text, url, audience, *progress, owner, until),
        )
    )
    async with conn.execute(
        "INSERT INTO broadcast_recipients (broadcast_id, user_id, status)"
        " SELECT CAST(? AS INTEGER), id, 'pending' FROM users"
        f" WHERE is_blocked = 0 AND is_banned = 0 AND {where} ORDER BY id",
        (broadcast_id, *args),
    ) as cur:
        return broadcast_id, cur.rowcount


BROADCAST_ROW = Record(Broadcast)


async def get(conn: aiosqlite.Connection, broadcast_id: int) -> Broadcast | None:
    return await fetch_one(conn, "SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,), BROADCAST_ROW)


async def by_progress(conn: aiosqlite.Connection, chat_id: int, message_id: int) -> Broadcast | None:
    """The broadcast started from this confirmation screen, if any (a second Confirm tap finds it)."""
    return await fetch_one(
        conn,
        "SELECT * FROM broadcasts WHERE progress_chat_id = ? AND progress_message_id = ?",
        (chat_id, message_id),
        BROADCAST_ROW,
    )


async def complete(conn: aiosqlite.Connection, broadcast_id: int, owner: str) -> bool:
    """``done``, when ``owner`` still holds it and no recipient is left pending; False otherwise."""
    async with conn.execute(
        "UPDATE broadcasts SET status = 'done', finished_at = ? WHERE id = ? AND status = 'running'"
        " AND lease_owner = ? AND NOT EXISTS (SELECT 1 FROM broadcast_recipients"
        " WHERE broadcast_id = ? AND status = 'pending')",
        (stored_now(), broadcast_id, owner, broadcast_id),
    ) as cur:
        return cur.rowcount == 1


async def set_status(conn: aiosqlite.Connection, broadcast_id: int, status: str) -> bool:
    """Cancel (or finish) a running broadcast, whoever sends it; False when it was no longer running."""
    async with conn.execute(
        "UPDATE broadcasts SET status = ?, finished_at = ? WHERE id = ? AND status = 'running'",
        (status, stored_now(), broadcast_id),
    ) as cur:
        return cur.rowcount == 1


async def claim(conn: aiosqlite.Connection, broadcast_id: int, owner: str, after: int = FIRST) -> int | None:
    """Mark the next pending recipient after user ``after`` ``sending`` and return its user id. None when
    none is left, or when ``owner`` no longer holds the running broadcast (cancelled, or taken over).

    Recipients go by user id, the order ``create`` adds them in (PostgreSQL has no rowid), from a cursor
    the sender keeps: the primary key (broadcast_id, user_id) finds the next one at once, where
    ``ORDER BY user_id`` alone would walk past every recipient already sent at each claim.
    """
    return await fetch_value(
        conn,
        "UPDATE broadcast_recipients SET status = 'sending' WHERE broadcast_id = ? AND user_id = ("
        "SELECT user_id FROM broadcast_recipients WHERE broadcast_id = ? AND user_id > ? AND status = 'pending'"
        " AND EXISTS (SELECT 1 FROM broadcasts WHERE id = ? AND status = 'running' AND lease_owner = ?)"
        " ORDER BY user_id LIMIT 1) RETURNING user_id",
        (broadcast_id, broadcast_id, after, broadcast_id, owner),
    )


async def finish(
    conn: aiosqlite.Connection, broadcast_id: int, user_id: int, status: str, error: str | None = None
) -> None:
    assert status in FINAL
    await conn.execute(
        "UPDATE broadcast_recipients SET status = ?, error = ? WHERE broadcast_id = ? AND user_id = ?",
        (status, error, broadcast_id, user_id),
    )


async def release(conn: aiosqlite.Connection, broadcast_id: int, user_id: int) -> None:
    """Back to ``pending``: only for a recipient known not to have the message (its send got a 429)."""
    await conn.execute(
        "UPDATE broadcast_recipients SET status = 'pending'"
        " WHERE broadcast_id = ? AND user_id = ? AND status = 'sending'",
        (broadcast_id, user_id),
    )


async def interrupt(conn: aiosqlite.Connection, broadcast_id: int) -> int:
    """After a crash: recipients left ``sending`` may have the message; they become ``failed``, never resent."""
    async with conn.execute(
        "UPDATE broadcast_recipients SET status = 'failed', error = 'interrupted'"
        " WHERE broadcast_id = ? AND status = 'sending'",
        (broadcast_id,),
    ) as cur:
        return cur.rowcount


async def counts(conn: aiosqlite.Connection, broadcast_id: int) -> Counts:
    async with conn.execute(
        "SELECT status, COUNT(*) FROM broadcast_recipients WHERE broadcast_id = ? GROUP BY status", (broadcast_id,)
    ) as cur:
        return Counts(**{row[0]: int(row[1]) for row in await cur.fetchall()})
