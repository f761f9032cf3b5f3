"""Queries behind the operator's user screen. The caller owns the transaction."""

from __future__ import annotations

import aiosqlite

from storage.rows import fetch_value, returns_row
from storage.users import User, get


async def find(conn: aiosqlite.Connection, query: str) -> User | None:
    """A user by Telegram id (``12345``) or username (``@alice``, case-insensitive)."""
    text = query.strip()
    if text.lstrip("-").isdigit():
        return await get(conn, int(text))
    name = text.removeprefix("@")
    if not name:
        return None
    user_id = await fetch_value(
        conn, "SELECT id FROM users WHERE lower(username) = lower(?) ORDER BY last_seen_at DESC LIMIT 1", (name,)
    )
    return await get(conn, user_id) if user_id is not None else None


async def set_banned(conn: aiosqlite.Connection, user_id: int, banned: bool) -> bool:
    """True when the flag changed."""
    return await returns_row(
        conn,
        "UPDATE users SET is_banned = ? WHERE id = ? AND is_banned != ? RETURNING id",
        (int(banned), user_id, int(banned)),
    )
