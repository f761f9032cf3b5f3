"""Queries on users. Functions take a connection; the caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str | None
    first_name: str
    language: str
    balance: int
    is_banned: bool
    is_blocked: bool


def _user(row: aiosqlite.Row) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        first_name=row["first_name"],
        language=row["language"],
        balance=row["balance"],
        is_banned=bool(row["is_banned"]),
        is_blocked=bool(row["is_blocked"]),
    )


async def upsert(
    conn: aiosqlite.Connection, user_id: int, username: str | None, first_name: str, language: str
) -> User:
    """Register the user or refresh their profile and last-seen time."""
    async with conn.execute(
        """
        INSERT INTO users (id, username, first_name, language) VALUES (?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET username = excluded.username, first_name = excluded.first_name,
            language = excluded.language, is_blocked = 0,
            last_seen_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        RETURNING *
        """,
        (user_id, username, first_name, language),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return _user(row)


async def get(conn: aiosqlite.Connection, user_id: int) -> User | None:
    async with conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)) as cur:
        row = await cur.fetchone()
    return _user(row) if row else None


async def set_blocked(conn: aiosqlite.Connection, user_id: int, blocked: bool = True) -> None:
    await conn.execute("UPDATE users SET is_blocked = ? WHERE id = ?", (int(blocked), user_id))
