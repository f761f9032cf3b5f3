"""Which SMS are already stored, by fingerprint: the read that lets a poll skip the write transaction when an
upstream lists nothing new (a code_received order lists its SMS on every poll). The caller owns the connection;
fingerprints are made by :func:`storage.orders.fingerprint`."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

#: order ids per query, well under SQLite's limit on bound parameters
CHUNK = 500


async def fingerprints(conn: aiosqlite.Connection, order_ids: Sequence[int]) -> dict[int, set[str]]:
    """The stored SMS fingerprints of each order (orders with none are absent); read from the
    ``UNIQUE (order_id, fingerprint)`` index alone."""
    seen: dict[int, set[str]] = {}
    for start in range(0, len(order_ids), CHUNK):
        chunk = order_ids[start : start + CHUNK]
        marks = ", ".join("?" for _ in chunk)
        sql = f"SELECT order_id, fingerprint FROM order_sms WHERE order_id IN ({marks})"
        for order_id, fp in await conn.execute_fetchall(sql, tuple(chunk)):
            seen.setdefault(order_id, set()).add(fp)
    return seen
