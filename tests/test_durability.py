"""Durability: a committed charge or credit survives a power loss (WAL with synchronous=FULL)."""

from __future__ import annotations

from pathlib import Path

from storage.db import Database

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


async def pragma(db: Database, name: str) -> object:
    async with db.read() as conn:
        row = await (await conn.execute(f"PRAGMA {name}")).fetchone()
    assert row is not None
    return row[0]


async def test_an_opened_database_syncs_the_wal_at_every_commit(db: Database) -> None:
    assert await pragma(db, "journal_mode") == "wal"
    assert await pragma(db, "synchronous") == FULL


async def test_a_reopened_database_is_full_again(tmp_path: Path) -> None:
    """synchronous is per connection, not stored in the file: every open must set it."""
    for _ in range(2):
        db = await Database.open(tmp_path / "again.sqlite3")
        try:
            assert await pragma(db, "synchronous") == FULL
        finally:
            await db.close()
