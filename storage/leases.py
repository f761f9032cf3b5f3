"""Leases on open orders, and the replicas alive to hold them (migration 12). The caller owns the transaction.

An order waiting for SMS is polled by the replica named in ``lease_owner`` until ``lease_until``; a lease that
ran out (its replica died, or stalled) is free for any replica to take. Every time is ISO text made by
:func:`storage.timestamps.iso` (same length, so compared as strings). The statements are the same on SQLite and
PostgreSQL; a replica claims in one write transaction, and both backends run one writer at a time, so an
``UPDATE … RETURNING`` decides each order's holder atomically.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from storage.orders import OPEN_SQL
from storage.rows import fetch_column, fetch_value

#: the orders a poll run asks about (the open-orders index's condition first, word for word)
WAITING = f"{OPEN_SQL} AND status IN ('active', 'code_received')"
#: a lease this replica may take: nobody's, run out, or its own
TAKEABLE = "(lease_owner IS NULL OR lease_until IS NULL OR lease_until < ? OR lease_owner = ?)"


async def beat(conn: aiosqlite.Connection, replica: str, now: str) -> None:
    """This replica is alive at ``now``."""
    await conn.execute(
        "INSERT INTO replicas (name, seen_at) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET seen_at = excluded.seen_at",
        (replica, now),
    )


async def live(conn: aiosqlite.Connection, since: str) -> int:
    """Replicas seen at ``since`` or later (this one included once it has beaten)."""
    return int(await fetch_value(conn, "SELECT COUNT(*) FROM replicas WHERE seen_at >= ?", (since,), 0))


async def forget(conn: aiosqlite.Connection, replica: str, stale_before: str) -> None:
    """Drop ``replica`` (it is stopping) and every replica not seen since ``stale_before`` (long dead)."""
    await conn.execute("DELETE FROM replicas WHERE name = ? OR seen_at < ?", (replica, stale_before))


async def waiting_count(conn: aiosqlite.Connection) -> int:
    return int(await fetch_value(conn, f"SELECT COUNT(*) FROM orders WHERE {WAITING}", (), 0))


async def renew(conn: aiosqlite.Connection, replica: str, until: str) -> list[int]:
    """Extend every lease ``replica`` holds on a waiting order to ``until``; their ids."""
    return await fetch_column(
        conn,
        f"UPDATE orders SET lease_until = ? WHERE {WAITING} AND lease_owner = ? RETURNING id",
        (until, replica),
    )


async def take(conn: aiosqlite.Connection, replica: str, now: str, until: str, limit: int) -> list[int]:
    """Lease to ``replica``, until ``until``, up to ``limit`` waiting orders no other replica holds at ``now``
    (the oldest first); their ids."""
    return await fetch_column(
        conn,
        "UPDATE orders SET lease_owner = ?, lease_until = ? WHERE id IN ("
        f" SELECT id FROM orders WHERE {WAITING} AND (lease_owner IS NULL"
        " OR (lease_owner <> ? AND (lease_until IS NULL OR lease_until < ?))) ORDER BY id LIMIT ?) RETURNING id",
        (replica, until, replica, now, limit),
    )


async def shed(conn: aiosqlite.Connection, replica: str, count: int) -> list[int]:
    """Give up ``count`` of the waiting orders ``replica`` holds (the oldest: the least likely to get a code
    now), for replicas under their share to take; their ids."""
    return await fetch_column(
        conn,
        "UPDATE orders SET lease_owner = NULL, lease_until = NULL WHERE id IN ("
        f" SELECT id FROM orders WHERE {WAITING} AND lease_owner = ? ORDER BY id LIMIT ?) RETURNING id",
        (replica, count),
    )


async def take_these(
    conn: aiosqlite.Connection, replica: str, order_ids: Sequence[int], now: str, until: str
) -> list[int]:
    """Lease to ``replica`` those of ``order_ids`` (any status) that it holds or nobody holds at ``now``;
    their ids. One held by a live replica stays with it."""
    if not order_ids:
        return []
    marks = ", ".join("?" for _ in order_ids)
    return await fetch_column(
        conn,
        f"UPDATE orders SET lease_owner = ?, lease_until = ? WHERE id IN ({marks}) AND {TAKEABLE} RETURNING id",
        (replica, until, *order_ids, now, replica),
    )


async def holders(conn: aiosqlite.Connection, order_ids: Sequence[int], now: str) -> dict[int, str]:
    """The replica holding each of ``order_ids`` whose lease still runs at ``now`` (a read: the others are free)."""
    if not order_ids:
        return {}
    marks = ", ".join("?" for _ in order_ids)
    sql = f"SELECT id, lease_owner FROM orders WHERE id IN ({marks}) AND lease_owner IS NOT NULL AND lease_until >= ?"
    return {row[0]: row[1] for row in await conn.execute_fetchall(sql, (*order_ids, now))}


async def release(conn: aiosqlite.Connection, replica: str) -> int:
    """Free every lease ``replica`` holds (it is stopping); how many."""
    return len(
        await fetch_column(
            conn,
            "UPDATE orders SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ? RETURNING id",
            (replica,),
        )
    )
