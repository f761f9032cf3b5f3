"""Queries behind the operator's user screen. The caller owns the transaction."""

from __future__ import annotations

import aiosqlite

from storage.users import User, get


async def find(conn: aiosqlite.Connection, query: str) -> User | None:
    """A user by Telegram id (``12345``) or username (``@alice``, case-insensitive)."""
    text = query.strip()
    if text.lstrip("-").isdigit():
        return await get(conn, int(text))
    name = text.removeprefix("@")
    if not name:
        return None
    async with conn.execute(
        "SELECT id FROM users WHERE username = ? COLLATE NOCASE ORDER BY last_seen_at DESC LIMIT 1", (name,)
    ) as cur:
        row = await cur.fetchone()
    return await get(conn, row[0]) if row else None


async def set_banned(conn: aiosqlite.Connection, user_id: int, banned: bool) -> bool:
    """True when the flag changed."""
    async with conn.execute(
        "UPDATE users SET is_banned = ? WHERE id = ? AND is_banned != ? RETURNING id",
        (int(banned), user_id, int(banned)),
    ) as cur:
        return await cur.fetchone() is not None
