"""The one aiosqlite connection, its pragmas, and serialized transactions.

A single connection is shared by every coroutine, so two transactions must never interleave:
:meth:`Database.transaction` and :meth:`Database.read` take the same asyncio lock. Services own the
transactions: they open one and pass the connection to the query modules, which never commit,
roll back or begin on their own.

Durability: WAL with ``synchronous=FULL``, so the WAL is synced at every commit and a committed
credit or charge survives a power loss (``NORMAL`` may lose the last commits; see ``bench/durability.py``
for what it costs). The file itself (probe at start, one process, the watch that it stays the file
opened) is :mod:`storage.database_file`: each transaction and read checks first and raises
:class:`DatabaseGone`, so no money write lands in a detached file, and :attr:`Database.healthy` /
:attr:`Database.problem` say so to the rest of the bot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from storage.database_file import (
    DatabaseInUse,
    DatabaseUnusable,
    FileWatch,
    hold_database_lock,
    lock_path,
    probe_database,
)
from storage.migrations import migrate

__all__ = [
    "Database",
    "DatabaseGone",
    "DatabaseInUse",
    "DatabaseUnusable",
    "hold_database_lock",
    "lock_path",
    "probe_database",
]


class DatabaseGone(RuntimeError):
    """The database file was deleted or replaced while the bot ran: nothing may be read or written.

    Raised by :meth:`Database.transaction` and :meth:`Database.read` (before anything runs), so a
    money write never lands in the detached file. Handlers answer "under maintenance"; it does not
    pass by itself: the bot must be restarted on a restored file.
    """

    log_traceback = False  # known, alerted once: one log line where it stops something (bot.logs)

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class Database:
    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, path: Path | None = None) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._watch = FileWatch(path)

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        memory = str(path) == ":memory:"
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            await conn.execute("PRAGMA synchronous=FULL")  # WAL synced at every commit: money survives power loss
            await migrate(conn)
        except BaseException:
            await conn.close()  # else its thread outlives the error and the process never exits
            raise
        return cls(conn, None if memory else Path(path))

    async def close(self) -> None:
        await self._conn.close()

    @property
    def healthy(self) -> bool:
        """False once the database file was found deleted or replaced (see :meth:`check`)."""
        return self.problem is None

    @property
    def problem(self) -> str | None:
        """What makes the database unusable (deleted, replaced), or None while it is fine."""
        return self._watch.problem

    def check(self) -> bool:
        """Is the file at the path still the one opened? Once it is not, never again (until a restart).

        A few ``stat`` calls, cheap enough for every transaction; see :class:`FileWatch`.
        """
        return self._watch.check()

    def _usable(self) -> None:
        if not self.check():
            raise DatabaseGone(self.problem or "database unusable")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception.

        Raises :class:`DatabaseGone` before ``BEGIN`` once the file was deleted or replaced.
        """
        async with self._lock:
            self._usable()
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._usable()  # deleted while this transaction ran: roll back rather than commit into it
                await self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # also when COMMIT itself failed (e.g. SQLITE_BUSY)
                    await asyncio.shield(self._conn.execute("ROLLBACK"))
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection for reads, never in the middle of another coroutine's transaction.

        Raises :class:`DatabaseGone` once the file was deleted or replaced: what it holds is no
        longer what a restart would see.
        """
        async with self._lock:
            self._usable()
            yield self._conn

    async def probe_write(self) -> None:
        """Commit one tiny write (the one-row table of migration 11), for the readiness check.

        Only a commit reaches the disk: a rolled-back write stays in SQLite's page cache, so it would
        not notice a read-only file or a full disk. Raises :class:`DatabaseGone` or the SQLite error.
        """
        async with self.transaction() as conn:
            await conn.execute("INSERT OR REPLACE INTO write_probe (id, written_at) VALUES (1, datetime('now'))")

    @asynccontextmanager
    async def singleton(self, name: str) -> AsyncIterator[bool]:
        """True: only one process ever opens an SQLite file (:func:`hold_database_lock`), so work that
        must run on one replica at a time (see :meth:`storage.postgres.PostgresDatabase.singleton`)
        always runs here."""
        yield True
