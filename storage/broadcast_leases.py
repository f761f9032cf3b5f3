"""Leases of running broadcasts (``lease_owner`` / ``lease_until``): which replica sends each.

A running broadcast is sent by the one replica holding its lease, renewed while it sends; one whose lease
ran out (its replica died or stalled) is taken by the next replica that looks. All running broadcasts go
from one replica at a time, so one rate limiter paces them together: a replica takes one only while no
other sends another (``alone``). Leases are taken and renewed inside write transactions, which the database
runs one at a time on both dialects, so two replicas never both see "nobody sends" and both take one.
Functions take a connection; the caller owns the transaction.
"""

from __future__ import annotations

import aiosqlite

from storage.broadcasts import BROADCAST_ROW, Broadcast
from storage.rows import fetch_all, fetch_value


async def unattended(conn: aiosqlite.Connection, owner: str, expired_before: str) -> list[Broadcast]:
    """Running broadcasts nobody else sends: no lease, ``owner``'s own, or a lease that ended before
    ``expired_before`` (its replica died or stalled)."""
    return await fetch_all(
        conn,
        "SELECT * FROM broadcasts WHERE status = 'running'"
        " AND (lease_owner IS NULL OR lease_owner = ? OR COALESCE(lease_until, '') < ?) ORDER BY id",
        (owner, expired_before),
        BROADCAST_ROW,
    )


#: another replica than the second parameter sends a running broadcast other than the first, under a lease
#: that has not ended by the third
_SENT_ELSEWHERE = (
    "EXISTS (SELECT 1 FROM broadcasts other WHERE other.status = 'running' AND other.id <> ?"
    " AND other.lease_owner IS NOT NULL AND other.lease_owner <> ? AND COALESCE(other.lease_until, '') >= ?)"
)


async def take(
    conn: aiosqlite.Connection, broadcast_id: int, owner: str, until: str, expired_before: str, *, alone: bool = False
) -> bool:
    """Lease the broadcast to ``owner`` until ``until`` unless another replica holds a lease that has not
    ended by ``expired_before``; True when ``owner`` holds it now. ``alone``: and only while no other replica
    sends another running broadcast (all of them go from one replica, under its one rate limiter)."""
    async with conn.execute(
        "UPDATE broadcasts SET lease_owner = ?, lease_until = ? WHERE id = ?"
        " AND (lease_owner IS NULL OR lease_owner = ? OR COALESCE(lease_until, '') < ?)"
        + (f" AND NOT {_SENT_ELSEWHERE}" if alone else ""),
        (owner, until, broadcast_id, owner, expired_before, *((broadcast_id, owner, expired_before) if alone else ())),
    ) as cur:
        return cur.rowcount == 1


async def sender_elsewhere(conn: aiosqlite.Connection, owner: str, expired_before: str) -> bool:
    """Another replica than ``owner`` sends a running broadcast (its lease has not ended by ``expired_before``)."""
    return bool(await fetch_value(conn, f"SELECT {_SENT_ELSEWHERE}", (0, owner, expired_before)))  # ids start at 1


async def renew(conn: aiosqlite.Connection, broadcast_id: int, owner: str, until: str) -> bool:
    """Extend ``owner``'s lease; False when it is no longer running or another replica took it."""
    async with conn.execute(
        "UPDATE broadcasts SET lease_until = ? WHERE id = ? AND lease_owner = ? AND status = 'running'",
        (until, broadcast_id, owner),
    ) as cur:
        return cur.rowcount == 1


async def release_leases(conn: aiosqlite.Connection, owner: str) -> int:
    """At a graceful stop: ``owner``'s running broadcasts become free for the other replicas at once."""
    async with conn.execute(
        "UPDATE broadcasts SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ? AND status = 'running'",
        (owner,),
    ) as cur:
        return cur.rowcount
