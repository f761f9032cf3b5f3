"""What the shop sold lately: the services ranked by orders that kept their charge, for the popular list.

The caller owns the connection; nothing here writes.
"""

from __future__ import annotations

import aiosqlite

#: an order that was sold: its code arrived (or the user finished it), so the charge stuck
SOLD = ("code_received", "completed")

# Orders are numbered in the order they were created, so the window starts after the newest order older than
# ``since``: the subquery walks back from the last row and stops there, and the outer scan reads only the
# window (no index on created_at is needed). ``created_at >= ?`` keeps the edge exact.
_RANKING = f"""
    SELECT service, COUNT(*) AS sold FROM orders
    WHERE id > COALESCE((SELECT id FROM orders WHERE created_at < ? ORDER BY id DESC LIMIT 1), 0)
      AND created_at >= ? AND status IN ({", ".join("?" for _ in SOLD)})
    GROUP BY service
    ORDER BY sold DESC, service
    LIMIT ?
"""


async def ranking(conn: aiosqlite.Connection, since: str, limit: int = 20) -> list[tuple[str, int]]:
    """(service, orders sold) since ``since`` (ISO, as ``created_at`` is stored), best sellers first."""
    rows = await conn.execute_fetchall(_RANKING, (since, since, *SOLD, limit))
    return [(str(row[0]), int(row[1])) for row in rows]
