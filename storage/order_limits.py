"""Counts behind the per-user limits: open orders, recent purchases, write-offs in the making.

The caller owns the transaction: a limit is checked in the same one that places the order.
"""

from __future__ import annotations

import aiosqlite

from storage.orders import OPEN
from storage.rows import fetch_value


async def count_open(conn: aiosqlite.Connection, user_id: int) -> int:
    marks = ", ".join("?" for _ in OPEN)
    return await _count(conn, f"user_id = ? AND status IN ({marks})", (user_id, *OPEN))


async def count_open_refundable(
    conn: aiosqlite.Connection, user_id: int, providers: list[str], exclude: int | None = None
) -> int:
    """The user's open refundable orders at ``providers`` (no code yet), but ``exclude``: write-offs in
    the making."""
    if not providers:
        return 0
    marks = ", ".join("?" for _ in providers)
    return await _count(
        conn,
        f"user_id = ? AND refundable = 1 AND id != ? AND status IN ('pending', 'active', 'unknown') "
        f"AND provider IN ({marks})",
        (user_id, exclude if exclude is not None else -1, *providers),
    )


async def count_since(conn: aiosqlite.Connection, user_id: int, since: str) -> int:
    """Orders the user placed since ``since`` (ISO), whatever became of them."""
    return await _count(conn, "user_id = ? AND created_at >= ?", (user_id, since))


async def _count(conn: aiosqlite.Connection, where: str, params: tuple[object, ...]) -> int:
    return int(await fetch_value(conn, f"SELECT COUNT(*) FROM orders WHERE {where}", params, 0))
