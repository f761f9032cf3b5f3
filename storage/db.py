"""The one aiosqlite connection, its pragmas, and serialized transactions.

A single connection is shared by every coroutine, so two transactions must never interleave:
:meth:`Database.transaction` and the one-statement helpers take the same asyncio lock. Services
that change money open a transaction and pass the connection to the query functions, which
never commit on their own.

Durability: WAL with ``synchronous=FULL``, so the WAL is synced at every commit and a committed
credit or charge survives a power loss (``NORMAL`` may lose the last commits; see ``bench/durability.py``
for what it costs). One bot process per database file: :func:`hold_database_lock`.

At start, :func:`probe_database` checks the file is SQLite and writable, so a wrong DATABASE_PATH is
one line, not a traceback. While running, the file must stay the one that was opened: deleted or
replaced under the bot (``rm``, a restore moved over it), every later commit would land in a file
no restart will see. :meth:`Database.check` compares the path with the file opened; each
transaction and read checks first and raises :class:`DatabaseGone`, so no money write lands in a
detached file, and :attr:`Database.healthy` / :attr:`Database.problem` say so to the rest of the bot.
"""

from __future__ import annotations

import asyncio
import errno
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


def _identity(path: Path) -> tuple[int, int] | None:
    """``(st_dev, st_ino)`` of the file at ``path``, None if there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class Database:
    def __init__(self, conn: aiosqlite.Connection, path: Path | None = None) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        #: what makes the database unusable (deleted, replaced), or None while it is fine
        self.problem: str | None = None
        # the files opened, by path and identity: the database and its WAL (which holds the latest commits)
        self._files: list[tuple[Path, tuple[int, int]]] = []
        if path is not None:
            path = path.absolute()  # the bot never changes directory, but a test may
            for file in (path, path.with_name(path.name + "-wal")):
                if (identity := _identity(file)) is not None:
                    self._files.append((file, identity))

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

    def check(self) -> bool:
        """Is the file at the path still the one opened? Once it is not, never again (until a restart).

        A few ``stat`` calls, cheap enough for every transaction. A file that is gone from its path
        or is another file there (another device and inode) sets :attr:`problem`.
        """
        if self.problem is not None:
            return False
        for path, identity in self._files:
            try:
                now = _identity(path)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                    continue  # cannot tell (a transient error): SQLite reports a real failure itself
                now = None
            if now == identity:
                continue
            self.problem = f"{path} was {'deleted' if now is None else 'replaced by another file'} while the bot ran"
            logger.critical("database unusable: %s; no money is taken until a restart on a restored file", self.problem)
            return False
        return True

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
