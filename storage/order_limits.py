"""Counts behind the per-user limits: open orders, recent purchases, write-offs in the making.

The caller owns the transaction: a limit is checked in the same one that places the order.
"""

from __future__ import annotations

import aiosqlite

from storage.orders import OPEN


async def count_open(conn: aiosqlite.Connection, user_id: int) -> int:
    marks = ", ".join("?" for _ in OPEN)
    async with conn.execute(
        f"SELECT COUNT(*) FROM orders WHERE user_id = ? AND status IN ({marks})", (user_id, *OPEN)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def count_open_refundable(
    conn: aiosqlite.Connection, user_id: int, providers: list[str], exclude: int | None = None
) -> int:
    """The user's open refundable orders at ``providers`` (no code yet), but ``exclude``: write-offs in
    the making."""
    if not providers:
        return 0
    marks = ", ".join("?" for _ in providers)
    async with conn.execute(
        f"SELECT COUNT(*) FROM orders WHERE user_id = ? AND refundable = 1 AND id != ? "
        f"AND status IN ('pending', 'active', 'unknown') AND provider IN ({marks})",
        (user_id, exclude if exclude is not None else -1, *providers),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def count_since(conn: aiosqlite.Connection, user_id: int, since: str) -> int:
    """Orders the user placed since ``since`` (ISO), whatever became of them."""
    async with conn.execute(
        "SELECT COUNT(*) FROM orders WHERE user_id = ? AND created_at >= ?", (user_id, since)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0
