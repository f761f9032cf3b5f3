"""PostgreSQL sessions: a singleton job holds no pool slot, and no session's lock outlives a stuck holder.

A job in :meth:`storage.postgres.PostgresDatabase.singleton` reads and writes through the pool; when its lock
sat on a pool connection, a pool of one waited for itself forever and a small pool could be taken whole by
the one-replica jobs. Every session also carries :data:`storage.postgres.SERVER_SETTINGS`, so an idle
transaction, a write stuck behind the write lock or a dead replica host frees its locks in about a minute.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from storage import postgres
from storage.postgres import SERVER_SETTINGS, PostgresDatabase
from tests import backend

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not backend.SERVER_URL, reason="needs a PostgreSQL server (TEST_DATABASE_URL)"),
]


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    url = await backend.create_database()
    yield url
    await backend.drop_database(url)


async def test_a_singleton_job_reads_and_writes_through_a_pool_of_one(pg_url: str) -> None:
    db = await PostgresDatabase.open(pg_url, pool_size=1)
    try:

        async def job() -> int:
            async with db.singleton("x") as mine:
                assert mine
                async with db.read() as conn:
                    before = (await conn.execute_fetchall("SELECT count(*) FROM config"))[0][0]
                async with db.transaction() as conn:
                    await conn.execute("INSERT INTO config (key, value) VALUES ('k', 'v')")
                return before

        assert await asyncio.wait_for(job(), timeout=20) == 0
        async with db.read() as conn:
            assert await conn.execute_fetchall("SELECT key, value FROM config") == [("k", "v")]
    finally:
        await db.close()


async def test_a_second_replica_is_told_no_while_the_first_holds_the_job(pg_url: str) -> None:
    first = await PostgresDatabase.open(pg_url, pool_size=1)
    second = await PostgresDatabase.open(pg_url, pool_size=1)
    try:
        async with first.singleton("x") as mine:
            assert mine
            async with second.singleton("x") as theirs:
                assert not theirs
            async with second.singleton("y") as other_job:
                assert other_job
        async with second.singleton("x") as theirs:
            assert theirs
    finally:
        await first.close()
        await second.close()


async def _shown(conn: asyncpg.Connection) -> dict[str, str]:
    return {name: await conn.fetchval(f"SHOW {name}") for name in SERVER_SETTINGS}


#: what SHOW answers for each of SERVER_SETTINGS
SHOWN = {
    "idle_in_transaction_session_timeout": "1min",
    "lock_timeout": "30s",
    "tcp_keepalives_idle": "30",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "3",
}


async def test_every_session_ends_stuck_locks_in_about_a_minute(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool's sessions, and the singleton's own, carry the timeouts and TCP keepalives."""
    assert set(SHOWN) == set(SERVER_SETTINGS)
    opened: list[asyncpg.Connection] = []
    connect = asyncpg.connect

    async def recording(*args: Any, **kwargs: Any) -> asyncpg.Connection:
        opened.append(await connect(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(postgres.asyncpg, "connect", recording)
    db = await PostgresDatabase.open(pg_url, pool_size=2)
    try:
        async with db.read() as conn:
            assert await _shown(conn.raw) == SHOWN
        async with db.transaction() as conn:
            assert await _shown(conn.raw) == SHOWN
        async with db.singleton("x") as mine:
            assert mine and len(opened) == 1
            assert await _shown(opened[0]) == SHOWN
    finally:
        await db.close()


async def test_a_replica_waits_out_another_replicas_migration_past_the_lock_timeout(pg_url: str) -> None:
    """lock_timeout is for writes behind the write lock; a second replica starting during a long migration
    waits for it instead of failing, and its session gets its own timeout back afterwards."""
    from storage.migrations.postgres import MIGRATION_LOCK, POSTGRES, migrate_postgres

    migrating = await asyncpg.connect(pg_url)
    waiting = await asyncpg.connect(pg_url, server_settings={"lock_timeout": "100ms"})
    try:
        await migrating.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        start = asyncio.create_task(migrate_postgres(waiting))
        await asyncio.sleep(0.5)  # five of its lock timeouts
        assert not start.done()
        await migrating.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        assert await asyncio.wait_for(start, timeout=20) == max(POSTGRES)
        assert await waiting.fetchval("SHOW lock_timeout") == "100ms"
    finally:
        await migrating.close()
        await waiting.close()


async def test_the_reads_of_one_block_see_one_snapshot_and_cannot_write(pg_url: str) -> None:
    """As SQLite's reads under its lock: a commit between two statements of one read block is not seen in
    it (an audit's sums agree with each other), and the block cannot write by mistake."""
    db = await PostgresDatabase.open(pg_url, pool_size=2)
    try:
        async with db.read() as conn:
            before = (await conn.execute_fetchall("SELECT count(*) FROM config"))[0][0]
            async with db.transaction() as writer:
                await writer.execute("INSERT INTO config (key, value) VALUES ('k', 'v')")
            again = (await conn.execute_fetchall("SELECT count(*) FROM config"))[0][0]
        assert (before, again) == (0, 0)
        async with db.read() as conn:
            assert (await conn.execute_fetchall("SELECT count(*) FROM config"))[0][0] == 1  # the next block does
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            async with db.read() as conn:
                await conn.execute("DELETE FROM config")
    finally:
        await db.close()
