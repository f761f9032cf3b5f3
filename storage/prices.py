"""The operator's price overrides per (service, country). The caller owns the transaction."""

from __future__ import annotations

import aiosqlite

from storage.timestamps import stored_now


async def overrides(conn: aiosqlite.Connection) -> dict[tuple[str, str], int]:
    async with conn.execute("SELECT service, country, price FROM price_overrides") as cur:
        return {(r[0], r[1]): r[2] for r in await cur.fetchall()}


async def set_override(
    conn: aiosqlite.Connection, service: str, country: str, price: int | None, admin_id: int
) -> None:
    """Set (or, with ``price=None``, remove) the override."""
    if price is None:
        await conn.execute("DELETE FROM price_overrides WHERE service = ? AND country = ?", (service, country))
        return
    await conn.execute(
        """
        INSERT INTO price_overrides (service, country, price, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (service, country) DO UPDATE SET price = excluded.price, updated_by = excluded.updated_by,
            updated_at = excluded.updated_at
        """,
        (service, country, price, admin_id, stored_now()),
    )
