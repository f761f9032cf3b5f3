"""Read-only figures for the operator's statistics screen. Times are ISO strings as stored.

The money (sales and upstream purchases) is read with :mod:`storage.audit`, as the audit reads it.
The caller holds the connection (``Database.read``).
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.rows import Record, fetch_all, fetch_one


@dataclass(frozen=True, slots=True)
class UserCounts:
    total: int
    active_day: int
    active_week: int
    blocked: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """One finished order and when its first SMS arrived (None: no code)."""

    provider: str
    service: str
    country: str
    created_at: str
    first_sms_at: str | None


async def user_counts(conn: aiosqlite.Connection, day_ago: str, week_ago: str) -> UserCounts:
    counts = await fetch_one(
        conn,
        """
        SELECT COUNT(*) AS total,
               COALESCE(SUM(CASE WHEN last_seen_at >= ? THEN 1 ELSE 0 END), 0) AS active_day,
               COALESCE(SUM(CASE WHEN last_seen_at >= ? THEN 1 ELSE 0 END), 0) AS active_week,
               COALESCE(SUM(is_blocked), 0) AS blocked
        FROM users
        """,
        (day_ago, week_ago),
        Record(UserCounts),
    )
    assert counts is not None
    return counts


async def orders_by_status(conn: aiosqlite.Connection, since: str | None = None) -> dict[str, int]:
    async with conn.execute(
        "SELECT status, COUNT(*) FROM orders WHERE created_at >= ? GROUP BY status", (since or "",)
    ) as cur:
        return {r[0]: r[1] for r in await cur.fetchall()}


async def deliveries(conn: aiosqlite.Connection) -> list[Delivery]:
    """Every order whose outcome is known: it got a code, or it ended without one."""
    return await fetch_all(
        conn,
        """
        SELECT o.provider, o.service, o.country, o.created_at, MIN(s.received_at) AS first_sms_at
        FROM orders o LEFT JOIN order_sms s ON s.order_id = o.id
        GROUP BY o.id
        HAVING MIN(s.received_at) IS NOT NULL OR o.status IN ('completed', 'cancelled', 'expired', 'failed')
        """,
        (),
        Record(Delivery),
    )
