"""Queries on a user's favourites: the (service, country) pairs starred on a confirmation screen.

The caller owns the transaction. A pair is kept once per user (the table's primary key), so saving it
again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.rows import Record, fetch_all, fetch_value, returns_row


@dataclass(frozen=True, slots=True)
class FavouritePair:
    service: str
    country: str


_pair = Record(FavouritePair)


async def add(conn: aiosqlite.Connection, user_id: int, service: str, country: str) -> bool:
    """Save the pair; False when it was saved already."""
    return await returns_row(
        conn,
        "INSERT INTO favourites (user_id, service, country) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id, service, country) DO NOTHING RETURNING user_id",
        (user_id, service, country),
    )


async def remove(conn: aiosqlite.Connection, user_id: int, service: str, country: str) -> bool:
    """Drop the pair; False when it was not saved."""
    return await returns_row(
        conn,
        "DELETE FROM favourites WHERE user_id = ? AND service = ? AND country = ? RETURNING user_id",
        (user_id, service, country),
    )


async def exists(conn: aiosqlite.Connection, user_id: int, service: str, country: str) -> bool:
    sql = "SELECT 1 FROM favourites WHERE user_id = ? AND service = ? AND country = ?"
    return bool(await fetch_value(conn, sql, (user_id, service, country), 0))


async def count(conn: aiosqlite.Connection, user_id: int) -> int:
    return int(await fetch_value(conn, "SELECT COUNT(*) FROM favourites WHERE user_id = ?", (user_id,), 0))


async def of_user(conn: aiosqlite.Connection, user_id: int, limit: int) -> list[FavouritePair]:
    """The user's pairs, the most recently saved first (at most ``limit``)."""
    return await fetch_all(
        conn,
        "SELECT service, country FROM favourites WHERE user_id = ? ORDER BY created_at DESC, service, country LIMIT ?",
        (user_id, limit),
        _pair,
    )
