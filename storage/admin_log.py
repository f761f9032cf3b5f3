"""Every admin action, appended: who, what, when. Written in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.rows import Record, fetch_all


@dataclass(frozen=True, slots=True)
class AdminAction:
    id: int
    admin_id: int
    action: str
    details: str
    created_at: str


async def record(conn: aiosqlite.Connection, admin_id: int, action: str, details: str = "") -> None:
    await conn.execute(
        "INSERT INTO admin_log (admin_id, action, details) VALUES (?, ?, ?)", (admin_id, action, details)
    )


async def recent(conn: aiosqlite.Connection, limit: int = 20) -> list[AdminAction]:
    return await fetch_all(conn, "SELECT * FROM admin_log ORDER BY id DESC LIMIT ?", (limit,), Record(AdminAction))
