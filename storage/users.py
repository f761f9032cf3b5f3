"""Queries on users. Functions take a connection; the caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.rows import Record, fetch_one
from storage.timestamps import stored_now


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str | None
    first_name: str
    language: str  # Telegram's language_code, as the client last reported it
    balance: int
    is_banned: bool
    is_blocked: bool
    language_choice: str | None = None  # the user's own pick (/language); wins over ``language``


_user = Record(User, is_banned=bool, is_blocked=bool)


async def upsert(
    conn: aiosqlite.Connection, user_id: int, username: str | None, first_name: str, language: str
) -> User:
    """Register the user or refresh their profile and last-seen time."""
    user = await fetch_one(
        conn,
        """
        INSERT INTO users (id, username, first_name, language, last_seen_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET username = excluded.username, first_name = excluded.first_name,
            language = excluded.language, is_blocked = 0, last_seen_at = excluded.last_seen_at
        RETURNING *
        """,
        (user_id, username, first_name, language, stored_now()),
        _user,
    )
    assert user is not None
    return user


async def seen(conn: aiosqlite.Connection, user_id: int, since: str) -> tuple[User, bool] | None:
    """The user, and whether their last-seen time is at or after ``since`` (ISO); None for someone never seen."""
    return await fetch_one(
        conn, "SELECT *, last_seen_at >= ? AS recent FROM users WHERE id = ?", (since, user_id), _user_and_recent
    )


def _user_and_recent(row: aiosqlite.Row) -> tuple[User, bool]:
    return _user(row), bool(row["recent"])


async def get(conn: aiosqlite.Connection, user_id: int) -> User | None:
    return await fetch_one(conn, "SELECT * FROM users WHERE id = ?", (user_id,), _user)


async def choose_language(conn: aiosqlite.Connection, user_id: int, language: str) -> User | None:
    """Store the user's own language pick; None for someone never seen."""
    return await fetch_one(
        conn, "UPDATE users SET language_choice = ? WHERE id = ? RETURNING *", (language, user_id), _user
    )


async def set_blocked(conn: aiosqlite.Connection, user_id: int, blocked: bool = True) -> None:
    await conn.execute("UPDATE users SET is_blocked = ? WHERE id = ?", (int(blocked), user_id))
