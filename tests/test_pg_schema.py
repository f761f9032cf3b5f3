"""PostgreSQL's schema keeps up with SQLite's: the same tables, columns and indexes after every migration.

The two schemas are written by hand, one per dialect (:mod:`storage.migrations`); a migration that forgets
one of them would leave the same query valid on one backend and broken on the other, found only in
production. This compares what each database really holds after migrating, not the scripts.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from storage.db import Database
from storage.migrations.postgres import POSTGRES
from storage.migrations.runner import MIGRATIONS
from storage.postgres import PostgresDatabase
from tests import backend

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not backend.SERVER_URL, reason="needs a PostgreSQL server (TEST_DATABASE_URL)"),
]

#: bookkeeping of each dialect, not the shop's data: SQLite's AUTOINCREMENT counters, PostgreSQL's version row
_OWN = {"sqlite_sequence", "schema_version"}

Schema = dict[str, list[str]]


async def sqlite_schema(path: Path) -> tuple[Schema, set[str]]:
    """Every table's column names (in order), and every index's name, of a freshly migrated SQLite file."""
    db = await Database.open(path)
    try:
        async with db.read() as conn:
            tables = [r[0] for r in await conn.execute_fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")]
            schema = {}
            for table in tables:
                rows = await conn.execute_fetchall(f"PRAGMA table_info({table})")
                schema[table] = [row[1] for row in rows]
            indexes = await conn.execute_fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'"
            )
    finally:
        await db.close()
    return {t: c for t, c in schema.items() if t not in _OWN}, {r[0] for r in indexes}


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    url = await backend.create_database()
    yield url
    await backend.drop_database(url)


async def postgres_schema(url: str) -> tuple[Schema, set[str]]:
    """The same, read from information_schema and pg_indexes of a freshly migrated PostgreSQL database."""
    await (await PostgresDatabase.open(url)).close()  # opening migrates (a no-op on the migrated template)
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        )
        # a primary key or UNIQUE constraint's index: SQLite names those sqlite_autoindex_*, left out above
        indexes = await conn.fetch(
            "SELECT indexname FROM pg_indexes i WHERE schemaname = 'public' AND NOT EXISTS"
            " (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        )
    finally:
        await conn.close()
    schema: Schema = {}
    for row in rows:
        schema.setdefault(row["table_name"], []).append(row["column_name"])
    return {t: c for t, c in schema.items() if t not in _OWN}, {r["indexname"] for r in indexes}


async def test_both_dialects_reach_the_same_version() -> None:
    assert max(POSTGRES) == len(MIGRATIONS)


async def test_same_tables_and_columns_on_both(tmp_path: Path, pg_url: str) -> None:
    lite, _ = await sqlite_schema(tmp_path / "schema.sqlite3")
    pg, _ = await postgres_schema(pg_url)
    assert "orders" in lite and "ledger" in lite  # the reading itself worked
    assert sorted(pg) == sorted(lite)
    for table, columns in lite.items():
        assert sorted(pg[table]) == sorted(columns), table


async def test_same_indexes_on_both(tmp_path: Path, pg_url: str) -> None:
    """A query tuned against an index (tests/test_order_queries.py) finds it on both backends."""
    _, lite = await sqlite_schema(tmp_path / "schema.sqlite3")
    _, pg = await postgres_schema(pg_url)
    assert "orders_open" in lite
    assert pg == lite


@pytest.fixture
async def empty_pg_url() -> AsyncIterator[str]:
    """A database with nothing in it (not the migrated template), dropped afterwards."""
    name = "t_empty_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(backend.SERVER_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield backend.url_of(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_version_11_database_upgrades_step_by_step_and_keeps_its_data(
    empty_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shop that went live on the baseline takes every later step in place, its money where it was."""
    from storage.migrations import postgres as runner

    conn = await asyncpg.connect(empty_pg_url)
    try:
        with monkeypatch.context() as m:  # this bot as it shipped: version 11 its newest
            for number in [n for n in runner.POSTGRES if n > 11]:
                m.delitem(runner.POSTGRES, number)
            assert await runner.migrate_postgres(conn) == 11
        assert await conn.fetchval("SELECT to_regclass('replicas')") is None
        await conn.execute("INSERT INTO users (id, username, balance) VALUES (7, 'ann', 1500), (8, 'bob', 0)")
        order_id = await conn.fetchval(
            "INSERT INTO orders (user_id, request_key, status, provider, country, service, price, expires_at)"
            " VALUES (7, 'rk-1', 'active', 'p', 'de', 'tg', 500, '2030-01-01T00:00:00.000Z') RETURNING id"
        )
        await conn.execute(
            "INSERT INTO ledger (user_id, amount, balance_after, kind, reference, order_id) VALUES"
            " (7, 2000, 2000, 'topup', 'ref-1', NULL), (7, -500, 1500, 'purchase', 'ref-2', $1)",
            order_id,
        )

        assert await runner.migrate_postgres(conn) == max(POSTGRES) > 11

        users = await conn.fetch("SELECT id, username, balance FROM users ORDER BY id")
        assert [tuple(r) for r in users] == [(7, "ann", 1500), (8, "bob", 0)]
        order = await conn.fetchrow("SELECT id, user_id, status, price, lease_owner FROM orders")
        assert tuple(order) == (order_id, 7, "active", 500, None)
        ledger = await conn.fetch("SELECT amount, balance_after, reference, order_id FROM ledger ORDER BY id")
        assert [tuple(r) for r in ledger] == [(2000, 2000, "ref-1", None), (-500, 1500, "ref-2", order_id)]
        assert await conn.fetchval("SELECT count(*) FROM replicas") == 0
        with pytest.raises(asyncpg.RaiseError):  # the baseline's rules still hold after the steps
            await conn.execute("DELETE FROM ledger")
    finally:
        await conn.close()
