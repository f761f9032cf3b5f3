"""Leases on open orders, and the replicas alive to hold them (migration 12). The caller owns the transaction.

An order waiting for SMS is polled by the replica named in ``lease_owner`` while that replica is alive: its row in
``replicas`` was seen within LEASE_SECONDS. A replica's liveness is one row it beats, so keeping thousands of
leases costs one write, not one per order. ``lease_until`` is the takeover time written when an order is taken:
until then the order stays with its taker even if that one has not beaten yet. A lease is free when nobody
holds it, or its holder is neither alive nor within that time. Every time is ISO text made by
:func:`storage.timestamps.iso` (same length, so compared as strings). The statements are the same on SQLite and
PostgreSQL, both running one writer at a time, so an ``UPDATE … RETURNING`` decides each order's holder; the
caller takes and gives up in chunks (``limit``), so that no transaction holds the write lock for long.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from storage.orders import OPEN_SQL
from storage.rows import fetch_column, fetch_value

#: the orders a poll run asks about (the open-orders index's condition first, word for word; the lease index's
#: condition, migration 12, second)
WAITING = f"{OPEN_SQL} AND status IN ('active', 'code_received')"
#: the replicas alive since ``?``
LIVE = "(SELECT name FROM replicas WHERE seen_at >= ?)"
#: a lease whose holder is gone: takeover time before ``?``, the holder not alive since ``?``
LAPSED = f"(lease_until IS NULL OR lease_until < ?) AND lease_owner NOT IN {LIVE}"


async def beat(conn: aiosqlite.Connection, replica: str, now: str) -> None:
    """This replica is alive at ``now``: every lease it holds stays good (one row written)."""
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


async def bury(conn: aiosqlite.Connection, since: str) -> None:
    """Drop the replicas not seen since ``since`` that hold no waiting order any more (all taken over): a dead
    one listed is what makes the others claim at once."""
    await conn.execute(
        f"DELETE FROM replicas WHERE seen_at < ? AND NOT EXISTS (SELECT 1 FROM orders WHERE {WAITING}"
        " AND lease_owner = replicas.name)",
        (since,),
    )


async def waiting_count(conn: aiosqlite.Connection) -> int:
    return int(await fetch_value(conn, f"SELECT COUNT(*) FROM orders WHERE {WAITING}", (), 0))


async def held_count(conn: aiosqlite.Connection, replica: str) -> int:
    """Waiting orders ``replica`` holds (through the lease index)."""
    sql = f"SELECT COUNT(*) FROM orders WHERE {WAITING} AND lease_owner = ?"
    return int(await fetch_value(conn, sql, (replica,), 0))


async def loose(conn: aiosqlite.Connection, since: str) -> bool:
    """A waiting order nobody holds, or a replica not seen since ``since`` still listed (its orders are to take):
    a read, through the lease index and the small table of replicas."""
    free = await fetch_value(conn, f"SELECT 1 FROM orders WHERE {WAITING} AND lease_owner IS NULL LIMIT 1", (), 0)
    dead = await fetch_value(conn, "SELECT 1 FROM replicas WHERE seen_at < ? LIMIT 1", (since,), 0)
    return bool(free or dead)


async def take(conn: aiosqlite.Connection, replica: str, now: str, since: str, until: str, limit: int) -> list[int]:
    """Lease to ``replica``, until ``until``, up to ``limit`` waiting orders nobody holds, or whose holder is gone
    (takeover time before ``now``, not alive since ``since``); the oldest first; their ids."""
    return await fetch_column(
        conn,
        "UPDATE orders SET lease_owner = ?, lease_until = ? WHERE id IN ("
        f" SELECT id FROM orders WHERE {WAITING} AND (lease_owner IS NULL OR (lease_owner <> ? AND {LAPSED}))"
        " ORDER BY id LIMIT ?) RETURNING id",
        (replica, until, replica, now, since, limit),
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
    conn: aiosqlite.Connection, replica: str, order_ids: Sequence[int], now: str, since: str, until: str
) -> list[int]:
    """Lease to ``replica`` those of ``order_ids`` (any status) that it holds, nobody holds, or whose holder is
    gone (as in :func:`take`); their ids. One held by a live replica stays with it."""
    if not order_ids:
        return []
    marks = ", ".join("?" for _ in order_ids)
    return await fetch_column(
        conn,
        f"UPDATE orders SET lease_owner = ?, lease_until = ? WHERE id IN ({marks})"
        f" AND (lease_owner IS NULL OR lease_owner = ? OR ({LAPSED})) RETURNING id",
        (replica, until, *order_ids, replica, now, since),
    )


async def holders(conn: aiosqlite.Connection, order_ids: Sequence[int], now: str, since: str) -> dict[int, str]:
    """The replica holding each of ``order_ids`` whose lease is good: its holder alive since ``since``, or the
    takeover time not passed at ``now`` (a read: the others are free)."""
    if not order_ids:
        return {}
    marks = ", ".join("?" for _ in order_ids)
    sql = (
        f"SELECT id, lease_owner FROM orders WHERE id IN ({marks}) AND lease_owner IS NOT NULL"
        f" AND (lease_until >= ? OR lease_owner IN {LIVE})"
    )
    return {row[0]: row[1] for row in await conn.execute_fetchall(sql, (*order_ids, now, since))}


async def release(conn: aiosqlite.Connection, replica: str, limit: int) -> int:
    """Free up to ``limit`` of the waiting orders ``replica`` holds (it is stopping); how many. Its closed orders
    keep its name: with its row gone (:func:`forget`) and their takeover time long past, they are anyone's."""
    return len(await shed(conn, replica, limit))


#: the lease is good: its takeover time not passed (``?``: now) or its holder alive (seen since ``?``); a live
#: holder's leases are kept by its beat, not by rewriting ``lease_until``
RUNNING = f"(lease_until >= ? OR lease_owner IN {LIVE})"


async def held_elsewhere(
    conn: aiosqlite.Connection, order_ids: Sequence[int], replica: str, now: str, since: str
) -> set[int]:
    """Those of ``order_ids`` another replica than ``replica`` holds with a good lease (:data:`RUNNING` at ``now``,
    alive since ``since``): a read."""
    if not order_ids:
        return set()
    marks = ", ".join("?" for _ in order_ids)
    sql = f"SELECT id FROM orders WHERE id IN ({marks}) AND lease_owner <> ? AND {RUNNING}"
    return set(await fetch_column(conn, sql, (*order_ids, replica, now, since)))
