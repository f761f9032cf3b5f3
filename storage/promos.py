"""Queries on promo codes and their uses. The caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.orders import iso, parse_iso


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


def _promo(row: aiosqlite.Row) -> PromoCode:
    return PromoCode(
        code=row["code"],
        amount=row["amount"],
        max_uses=row["max_uses"],
        uses=row["uses"],
        expires_at=parse_iso(row["expires_at"]) if row["expires_at"] else None,
        created_at=row["created_at"],
    )


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
    async with conn.execute(
        "INSERT INTO promo_codes (code, amount, max_uses, expires_at, created_by) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (code) DO NOTHING RETURNING *",
        (code, amount, max_uses, iso(expires_at) if expires_at else None, created_by),
    ) as cur:
        row = await cur.fetchone()
    return _promo(row) if row else None


async def get(conn: aiosqlite.Connection, code: str) -> PromoCode | None:
    async with conn.execute("SELECT * FROM promo_codes WHERE code = ?", (code,)) as cur:
        row = await cur.fetchone()
    return _promo(row) if row else None


async def newest(conn: aiosqlite.Connection, limit: int = 30) -> list[PromoCode]:
    async with conn.execute("SELECT * FROM promo_codes ORDER BY created_at DESC, code LIMIT ?", (limit,)) as cur:
        return [_promo(r) for r in await cur.fetchall()]


async def add_use(conn: aiosqlite.Connection, code: str, user_id: int) -> bool:
    """Record that ``user_id`` used ``code``; False when they already had (nothing changed)."""
    async with conn.execute(
        "INSERT INTO promo_uses (code, user_id) VALUES (?, ?) ON CONFLICT (code, user_id) DO NOTHING RETURNING 1",
        (code, user_id),
    ) as cur:
        return await cur.fetchone() is not None


async def count_use(conn: aiosqlite.Connection, code: str) -> bool:
    """One more use, only while some are left; False when the code is used up."""
    async with conn.execute(
        "UPDATE promo_codes SET uses = uses + 1 WHERE code = ? AND uses < max_uses RETURNING uses", (code,)
    ) as cur:
        return await cur.fetchone() is not None
