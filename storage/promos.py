"""Queries on promo codes and their uses. The caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.rows import Record, fetch_all, fetch_one, optional, returns_row
from storage.timestamps import iso, parse_iso


@dataclass(frozen=True, slots=True)
class PromoCode:
    code: str  # upper-case
    amount: int  # credited, bot currency minor units
    max_uses: int
    uses: int
    expires_at: datetime | None
    created_at: str

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


_promo = Record(PromoCode, expires_at=optional(parse_iso))


async def create(
    conn: aiosqlite.Connection,
    *,
    code: str,
    amount: int,
    max_uses: int,
    expires_at: datetime | None,
    created_by: int,
) -> PromoCode | None:
    """The new code, or None when it already exists (nothing changed)."""
    return await fetch_one(
        conn,
        "INSERT INTO promo_codes (code, amount, max_uses, expires_at, created_by) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (code) DO NOTHING RETURNING *",
        (code, amount, max_uses, iso(expires_at) if expires_at else None, created_by),
        _promo,
    )


async def get(conn: aiosqlite.Connection, code: str) -> PromoCode | None:
    return await fetch_one(conn, "SELECT * FROM promo_codes WHERE code = ?", (code,), _promo)


async def newest(conn: aiosqlite.Connection, limit: int = 30) -> list[PromoCode]:
    return await fetch_all(conn, "SELECT * FROM promo_codes ORDER BY created_at DESC, code LIMIT ?", (limit,), _promo)


async def add_use(conn: aiosqlite.Connection, code: str, user_id: int) -> bool:
    """Record that ``user_id`` used ``code``; False when they already had (nothing changed)."""
    return await returns_row(
        conn,
        "INSERT INTO promo_uses (code, user_id) VALUES (?, ?) ON CONFLICT (code, user_id) DO NOTHING RETURNING 1",
        (code, user_id),
    )


async def count_use(conn: aiosqlite.Connection, code: str) -> bool:
    """One more use, only while some are left; False when the code is used up."""
    return await returns_row(
        conn, "UPDATE promo_codes SET uses = uses + 1 WHERE code = ? AND uses < max_uses RETURNING uses", (code,)
    )
