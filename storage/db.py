"""The one aiosqlite connection, its pragmas, and serialized transactions.

A single connection is shared by every coroutine, so two transactions must never interleave:
:meth:`Database.transaction` and the one-statement helpers take the same asyncio lock. Services
that change money open a transaction and pass the connection to the query functions, which
never commit on their own.

Durability: WAL with ``synchronous=FULL``, so the WAL is synced at every commit and a committed
credit or charge survives a power loss (``NORMAL`` may lose the last commits; see ``bench/durability.py``
for what it costs). One bot process per database file: :func:`hold_database_lock`.

At start, :func:`probe_database` checks the file is SQLite and writable, so a wrong DATABASE_PATH is
one line, not a traceback.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import BinaryIO

import aiosqlite

from storage.migrations import migrate

logger = logging.getLogger(__name__)


class DatabaseInUse(RuntimeError):
    """Another process holds the database's lock file."""

    def __init__(self, database: Path, holder: str) -> None:
        super().__init__(f"{database} is in use by another process{f' (pid {holder})' if holder else ''}")
        self.database = database
        self.holder = holder  # the pid the holder wrote into the lock file, or "" if unknown


class DatabaseUnusable(RuntimeError):
    """DATABASE_PATH cannot serve as the bot's database; the message says why, in one line."""


def probe_database(database: str | Path) -> None:
    """Check, before the bot starts, that ``database`` is an SQLite file this process can write (or
    can be created); raises :class:`DatabaseUnusable` with a one-line reason otherwise.

    Opens it, reads the schema (a file that is not SQLite fails here), switches it to WAL (which needs
    its ``-wal`` and ``-shm`` files next to it) and takes the write lock inside a transaction it rolls
    back, so nothing is changed. A file it had to create and could not use is removed again.
    """
    path = Path(database)
    if str(path) == ":memory:":
        return
    if path.exists() and not path.is_file():
        raise DatabaseUnusable(f"{path.absolute()} is not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnusable(f"cannot create the folder {path.parent.absolute()}: {exc.strerror}") from None
    existed = path.exists()
    try:
        conn = sqlite3.connect(path, timeout=5, isolation_level=None)
    except sqlite3.Error as exc:
        raise DatabaseUnusable(f"cannot open {path.absolute()}: {exc}") from None
    try:
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
                raise DatabaseUnusable(f"{path.absolute()} is not an SQLite database") from None
            raise
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TABLE _write_probe (x)")  # a real write to the file; rolled back
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise DatabaseUnusable(
            f"cannot use {path.absolute()}: {exc} (check that the file and its folder are writable "
            "by this user and the disk is neither full nor read-only)"
        ) from None
    else:
        existed = True  # usable: keep it
    finally:
        conn.close()
        if not existed:
            with suppress(OSError):
                path.unlink()


def lock_path(database: str | Path) -> Path:
    """``<database path>.lock``, next to the database file."""
    database = Path(database)
    return database.with_name(database.name + ".lock")


def hold_database_lock(database: str | Path) -> BinaryIO:
    """Take ``<database>.lock`` exclusively for as long as the returned file stays open.

    Two bot processes on one database would both poll Telegram and message users twice, so the
    second refuses to start. The lock is an ``flock`` on an open file: the kernel releases it when
    the process exits, however it exits, so a crash never leaves a stale lock behind. The file
    itself is left in place (deleting it would race with the next process taking it) and holds
    the holder's pid, for the message. Raises :class:`DatabaseInUse` when another open file
    (another process) holds it, OSError when the file cannot be created.
    """
    database = Path(database)
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+b")  # never truncates the holder's pid before we own the lock
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read(32).decode(errors="replace").strip()
        handle.close()
        raise DatabaseInUse(database, holder if holder.isdigit() else "") from None
    except BaseException:
        handle.close()
        raise
    handle.truncate(0)
    handle.write(str(os.getpid()).encode())
    handle.flush()
    return handle


class Database:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        if str(path) != ":memory:":
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
        return cls(conn)

    async def close(self) -> None:
        await self._conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception."""
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                await self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # also when COMMIT itself failed (e.g. SQLITE_BUSY)
                    await asyncio.shield(self._conn.execute("ROLLBACK"))
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection for reads, never in the middle of another coroutine's transaction."""
        async with self._lock:
            yield self._conn
