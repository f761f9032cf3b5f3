"""Operator settings changed at run time (``config`` table): markup, upstream switches, ...

Functions take a connection; the caller owns the transaction.
"""

from __future__ import annotations

import aiosqlite

from storage.rows import fetch_value
from storage.timestamps import stored_now


async def get(conn: aiosqlite.Connection, key: str) -> str | None:
    return await fetch_value(conn, "SELECT value FROM config WHERE key = ?", (key,))


async def with_prefix(conn: aiosqlite.Connection, prefix: str) -> dict[str, str]:
    """Every ``key -> value`` whose key starts with ``prefix``."""
    async with conn.execute("SELECT key, value FROM config WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)) as cur:
        return {r[0]: r[1] for r in await cur.fetchall()}


async def put(conn: aiosqlite.Connection, key: str, value: str, admin_id: int | None) -> None:
    await conn.execute(
        """
        INSERT INTO config (key, value, updated_by, updated_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by,
            updated_at = excluded.updated_at
        """,
        (key, value, admin_id, stored_now()),
    )
