"""Registering the sender of each update: a write only when something about them changed."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.people import SEEN_STEP, People
from storage import users
from storage.db import Database
from storage.timestamps import stored_now
from tests import backend

pytestmark = pytest.mark.postgres

#: these count the statements and changed rows through SQLite's trace callback and total_changes
traced = pytest.mark.skipif(backend.ON_POSTGRES, reason="SQLite's statement trace")


async def statements(db: Database, call: Awaitable[Any]) -> tuple[list[str], int]:
    """The SQL ``call`` ran and the rows it changed."""
    ran: list[str] = []
    async with db.read() as conn:
        await conn.set_trace_callback(ran.append)
        before = conn.total_changes
    await call
    async with db.read() as conn:
        await conn.set_trace_callback(None)
        return ran, conn.total_changes - before


@traced
async def test_an_unchanged_user_costs_one_read_and_no_write(db: Database) -> None:
    people = People(db)
    first, changed = await statements(db, people.register(5, "five", "Five", "en"))
    assert changed == 1 and "BEGIN IMMEDIATE" in first
    again, changed = await statements(db, people.register(5, "five", "Five", "en"))
    assert changed == 0
    assert len(again) == 1 and again[0].lstrip().startswith("SELECT")  # no transaction at all
    user = await people.register(5, "five", "Five", "en")
    async with db.read() as conn:
        assert await users.get(conn, 5) == user


async def test_a_changed_profile_is_stored(db: Database) -> None:
    people = People(db)
    await people.register(5, "five", "Five", "en")
    for username, name, language in [("renamed", "Five", "en"), (None, "Five", "en"), (None, "Fünf", "de")]:
        user = await people.register(5, username, name, language)
        assert (user.username, user.first_name, user.language) == (username, name, language)
        async with db.read() as conn:
            assert await users.get(conn, 5) == user


async def test_writing_again_clears_the_blocked_flag(db: Database) -> None:
    people = People(db)
    await people.register(5, "five", "Five", "en")
    await people.mark_blocked(5)
    assert not (await people.register(5, "five", "Five", "en")).is_blocked
    async with db.read() as conn:
        assert not (await users.get(conn, 5)).is_blocked  # type: ignore[union-attr]


@traced
async def test_last_seen_is_refreshed_once_older_than_the_step(db: Database) -> None:
    people = People(db)
    await people.register(5, "five", "Five", "en")

    async def seen_ago(ago: timedelta) -> int:
        """Rows written by an update from someone last seen ``ago``."""
        async with db.transaction() as conn:
            await conn.execute("UPDATE users SET last_seen_at = ? WHERE id = 5", (stored_now(datetime.now(UTC) - ago),))
        return (await statements(db, people.register(5, "five", "Five", "en")))[1]

    assert await seen_ago(SEEN_STEP - timedelta(minutes=1)) == 0
    assert await seen_ago(SEEN_STEP + timedelta(seconds=1)) == 1
    async with db.read() as conn:
        async with conn.execute("SELECT last_seen_at FROM users WHERE id = 5") as cur:
            (seen,) = await cur.fetchone()  # type: ignore[misc]
    assert seen >= stored_now(datetime.now(UTC) - timedelta(minutes=1))


@traced
async def test_a_restart_reads_what_was_stored(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "people.sqlite3")
    await People(db).register(5, "five", "Five", "en")
    await db.close()
    db = await Database.open(tmp_path / "people.sqlite3")
    try:
        people = People(db)
        _, changed = await statements(db, people.register(5, "five", "Five", "en"))
        assert changed == 0
        _, changed = await statements(db, people.register(5, "newname", "Five", "en"))
        assert changed == 1
        async with db.read() as conn:
            assert (await users.get(conn, 5)).username == "newname"  # type: ignore[union-attr]
    finally:
        await db.close()
