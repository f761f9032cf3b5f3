"""Operator settings changed at run time (``config`` table): markup, upstream switches, ...

Functions take a connection; the caller owns the transaction.
"""

from __future__ import annotations

import aiosqlite


async def get(conn: aiosqlite.Connection, key: str) -> str | None:
    async with conn.execute("SELECT value FROM config WHERE key = ?", (key,)) as cur:
        row = await cur.fetchone()
    return row[0] if row else None


async def with_prefix(conn: aiosqlite.Connection, prefix: str) -> dict[str, str]:
    """Every ``key -> value`` whose key starts with ``prefix``."""
    async with conn.execute("SELECT key, value FROM config WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)) as cur:
        return {r[0]: r[1] for r in await cur.fetchall()}


async def put(conn: aiosqlite.Connection, key: str, value: str, admin_id: int | None) -> None:
    await conn.execute(
        """
        INSERT INTO config (key, value, updated_by) VALUES (?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by,
            updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        """,
        (key, value, admin_id),
    )
