"""SMS users sent from their rented numbers (table ``outbound_sms``, migration 10). The caller owns
the transaction.

A row is written ``sending`` together with its charge, then moves once: ``sent`` (the upstream took
it), ``refused`` (a documented refusal; refunded) or ``unclear`` (the answer was lost: kept for the
operator, never refunded nor re-sent by itself). Every row stays, for the operator.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.rows import Record, fetch_all, fetch_column, fetch_one, fetch_value, returns_row


@dataclass(frozen=True, slots=True)
class OutboundSms:
    id: int
    order_id: int
    user_id: int
    recipient: str
    text: str
    price: int
    status: str  # sending | sent | refused | unclear
    upstream_id: str | None
    error: str | None
    created_at: str


_row = Record(OutboundSms)

#: statuses that count against the limits: all but a refusal (nothing was sent, the price came back)
COUNTED_SQL = "status != 'refused'"


async def add(conn: aiosqlite.Connection, *, order_id: int, user_id: int, recipient: str, text: str, price: int) -> int:
    """A new message, ``sending``; its id."""
    async with conn.execute(
        "INSERT INTO outbound_sms (order_id, user_id, recipient, text, price, status) "
        "VALUES (?, ?, ?, ?, ?, 'sending') RETURNING id",  # RETURNING, not lastrowid: PostgreSQL has none
        (order_id, user_id, recipient, text, price),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def move(
    conn: aiosqlite.Connection, sms_id: int, status: str, *, upstream_id: str | None = None, error: str | None = None
) -> bool:
    """``sending`` -> ``status`` with the upstream's id or error; False when it was no longer sending."""
    return await returns_row(
        conn,
        "UPDATE outbound_sms SET status = ?, upstream_id = ?, error = ? "
        "WHERE id = ? AND status = 'sending' RETURNING id",
        (status, upstream_id, error, sms_id),
    )


async def interrupted(conn: aiosqlite.Connection, before: str) -> int:
    """Every message still ``sending`` since before ``before`` (ISO): its process stopped between the charge
    and the answer, so whether it left is unknown; made ``unclear`` for the operator. Returns how many."""
    cursor = await conn.execute(
        "UPDATE outbound_sms SET status = 'unclear', error = 'interrupted: the bot stopped before an answer' "
        "WHERE status = 'sending' AND created_at < ?",
        (before,),
    )
    return cursor.rowcount


async def get(conn: aiosqlite.Connection, sms_id: int) -> OutboundSms | None:
    return await fetch_one(conn, "SELECT * FROM outbound_sms WHERE id = ?", (sms_id,), _row)


async def of_order(conn: aiosqlite.Connection, order_id: int) -> list[OutboundSms]:
    """Every message sent from the order's number, oldest first."""
    return await fetch_all(conn, "SELECT * FROM outbound_sms WHERE order_id = ? ORDER BY id", (order_id,), _row)


async def count_of_order(conn: aiosqlite.Connection, order_id: int) -> int:
    """Messages of the order that count against its limit."""
    sql = f"SELECT COUNT(*) FROM outbound_sms WHERE order_id = ? AND {COUNTED_SQL}"
    return int(await fetch_value(conn, sql, (order_id,), 0))


async def count_of_user_since(conn: aiosqlite.Connection, user_id: int, since: str) -> int:
    """The user's messages since ``since`` (ISO, as stored) that count against the daily limit."""
    sql = f"SELECT COUNT(*) FROM outbound_sms WHERE user_id = ? AND created_at >= ? AND {COUNTED_SQL}"
    return int(await fetch_value(conn, sql, (user_id, since), 0))


async def senders(conn: aiosqlite.Connection, order_id: int) -> list[str]:
    """Who texted the order's number, newest first (as the upstream reported them; maybe none)."""
    sql = "SELECT sender FROM order_sms WHERE order_id = ? AND sender IS NOT NULL ORDER BY id DESC"
    return [str(sender) for sender in await fetch_column(conn, sql, (order_id,))]
