"""A user's order history a page at a time, for /orders: every order, or the open ones only.

The caller owns the transaction. Both reads go through the index ``orders_user (user_id, id)``; the
open-only filter repeats the condition of the partial index of open orders (``OPEN_SQL``) word for word.
"""

from __future__ import annotations

import aiosqlite

from storage.orders import OPEN_SQL, Order
from storage.orders import _order as order_record
from storage.rows import fetch_all, fetch_value


def _where(open_only: bool) -> str:
    return f"user_id = ? AND {OPEN_SQL}" if open_only else "user_id = ?"


async def count(conn: aiosqlite.Connection, user_id: int, *, open_only: bool = False) -> int:
    """How many orders the user has (open ones only, with ``open_only``)."""
    return int(await fetch_value(conn, f"SELECT COUNT(*) FROM orders WHERE {_where(open_only)}", (user_id,), 0))


async def page(
    conn: aiosqlite.Connection, user_id: int, *, offset: int, limit: int, open_only: bool = False
) -> list[Order]:
    """``limit`` of the user's orders, the newest first, after skipping ``offset`` of them."""
    return await fetch_all(
        conn,
        f"SELECT * FROM orders WHERE {_where(open_only)} ORDER BY id DESC LIMIT ? OFFSET ?",
        (user_id, limit, offset),
        order_record,
    )
