"""The poll job's reads of open orders: every order waiting for SMS as the few columns a poll run needs, and the
full :class:`storage.orders.Order` only of the few a run acts on (a new SMS, an order closed upstream, a
per-order check). With 10,000 open orders, building every one as an ``Order`` took ~250 ms of the event
loop each run; as :class:`Waiting` tuples, built in aiosqlite's thread as they are fetched, next to none.
The caller owns the connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, cast

import aiosqlite

from storage.orders import OPEN_SQL, Order
from storage.orders import _order as order_record
from storage.rows import fetch_all
from storage.sms_seen import CHUNK


class Waiting(NamedTuple):
    """An order waiting for SMS (active, or with a code and open for more), as a poll run sees it."""

    id: int
    provider: str
    upstream_id: str | None
    created_at: str  # ISO, as stored
    lease_owner: str | None = None  # the replica polling it (storage.leases), None: nobody
    lease_until: str | None = None  # ISO: the lease holds until then


async def waiting(conn: aiosqlite.Connection, owner: str | None = None) -> list[Waiting]:
    """Every order waiting for SMS, by id; through the index of open orders (its condition repeated). With
    ``owner``, only those that replica holds, through the lease index (migration 12): two replicas each read
    their half, not all of them."""
    sql = (
        "SELECT id, provider, upstream_id, created_at, lease_owner, lease_until FROM orders"
        f" WHERE {OPEN_SQL} AND status IN ('active', 'code_received')"
        + (" AND lease_owner = ?" if owner is not None else "")
        + " ORDER BY id"
    )
    async with conn.execute(sql, () if owner is None else (owner,)) as cur:
        cur.row_factory = _waiting  # type: ignore[assignment]  # rows built in aiosqlite's thread, not on the loop
        return cast(list[Waiting], list(await cur.fetchall()))


def _waiting(_cursor: object, row: tuple[int, str, str | None, str, str | None, str | None]) -> Waiting:
    return Waiting(*row)


async def by_id(conn: aiosqlite.Connection, order_ids: Sequence[int]) -> dict[int, Order]:
    """The orders with these ids, whatever their status (an id with no order is absent)."""
    found: dict[int, Order] = {}
    for start in range(0, len(order_ids), CHUNK):
        chunk = order_ids[start : start + CHUNK]
        sql = f"SELECT * FROM orders WHERE id IN ({', '.join('?' for _ in chunk)})"
        found |= {order.id: order for order in await fetch_all(conn, sql, chunk, order_record)}
    return found
