"""PostgreSQL behind the same :class:`storage.db.Database` interface: a pool, transactions, leases' locks.

The services open transactions and reads exactly as on SQLite; the query modules get a
:class:`storage.pg_connection.PgConnection`. What SQLite's single writer gave for free is made explicit:

- **One writer at a time, across replicas.** Every transaction first takes one transaction-scoped advisory
  lock (:data:`WRITE_LOCK`), as SQLite's ``BEGIN IMMEDIATE`` takes the file's write lock. A read-then-write
  in a service (read the balance, then charge it) therefore never interleaves with another replica's,
  whatever the isolation level, and every money rule that held on SQLite holds here. The lock is held for
  the length of a transaction only (milliseconds: no transaction waits on an upstream or Telegram), and
  reads never take it.
- **Work done by one replica at a time** (:meth:`PostgresDatabase.singleton`): a session advisory lock
  per name, tried without waiting, held on a connection of its own (outside the pool) while the work runs.
- **No lock outlives its holder for long** (:data:`SERVER_SETTINGS`): a transaction left idle, a write
  queued behind the write lock, a replica host gone without closing its sockets all end in about a minute.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from storage.migrations.postgres import migrate_postgres
from storage.pg_connection import PgConnection, prepare
from storage.timestamps import stored_now

logger = logging.getLogger(__name__)

#: the advisory lock every write transaction takes first: the database's one writer, as in SQLite
WRITE_LOCK = 0x77726974  # "writ"

#: every session's settings, the pool's and a singleton's: an idle transaction ends after 60 s instead of
#: holding the write lock; a write waiting 30 s for a lock fails instead of hanging its handler; the server
#: probes an idle client after 30 s, every 10 s, 3 times, so a dead host's locks free in about a minute
#: (the kernel's default is two hours)
SERVER_SETTINGS = {
    "idle_in_transaction_session_timeout": "60s",
    "lock_timeout": "30s",
    "tcp_keepalives_idle": "30",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "3",
}


def lock_key(name: str) -> int:
    """The advisory lock key of a named singleton job (stable across processes and versions)."""
    return 0x6A6F6200000000 + zlib.crc32(name.encode())


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database, migrated on open."""

    dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool = pool
        self.url = url
        self._dsn = dsn_of(url)

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 10) -> PostgresDatabase:
        pool = await asyncpg.create_pool(
            dsn_of(url), min_size=1, max_size=pool_size, init=prepare, server_settings=SERVER_SETTINGS
        )
        try:
            async with pool.acquire() as conn:
                await migrate_postgres(conn)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, url)

    async def close(self) -> None:
        await self._pool.close()

    # the file watch of SQLite: a server has no file to lose, its problems surface as errors per query
    healthy = True
    problem: str | None = None

    def check(self) -> bool:
        return True

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgConnection]:
        """``BEGIN`` and the write lock … ``COMMIT``, rolled back on any exception."""
        async with self._pool.acquire() as raw, raw.transaction():
            await raw.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
            yield PgConnection(raw)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[PgConnection]:
        """A connection for reads, in one read-only REPEATABLE READ transaction: every statement of the block
        sees the same snapshot, as SQLite's reads under its lock do (an audit's balance and ledger sums agree).
        Such a transaction never waits for writers nor fails for them."""
        async with self._pool.acquire() as raw, raw.transaction(isolation="repeatable_read", readonly=True):
            yield PgConnection(raw)

    async def probe_write(self) -> None:
        """Commit one tiny write, for the readiness check."""
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO write_probe (id, written_at) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at",
                (stored_now(),),
            )

    @asynccontextmanager
    async def singleton(self, name: str) -> AsyncIterator[bool]:
        """True while this process alone runs the work called ``name``; False when another one does.

        A session advisory lock on a connection of its own, outside the pool, held for the length of the
        work: the work takes pool connections for its reads and transactions, and a job holding a pool slot
        besides would starve the handlers (with a pool of one it would wait for itself forever). If the
        process dies, the server ends the session and the lock passes to the next replica that asks.
        """
        key = lock_key(name)
        raw = await asyncpg.connect(self._dsn, server_settings=SERVER_SETTINGS)
        try:
            held = bool(await raw.fetchval("SELECT pg_try_advisory_lock($1)", key))
        except BaseException:
            await asyncio.shield(raw.close())
            raise
        if not held:
            await asyncio.shield(raw.close())
            yield False
            return
        try:
            yield True
        finally:
            await asyncio.shield(_unlock(raw, key))


async def _unlock(raw: asyncpg.Connection, key: int) -> None:
    """Free a singleton's lock and close its connection (closing alone would free it too: this says so)."""
    try:
        await raw.fetchval("SELECT pg_advisory_unlock($1)", key)
    finally:
        await raw.close()


def dsn_of(url: str) -> str:
    """asyncpg's DSN of a ``DATABASE_URL``: ``postgres://`` and ``postgresql+asyncpg://`` alike."""
    return "postgresql://" + url.split("://", 1)[1]
