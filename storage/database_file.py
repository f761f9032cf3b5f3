"""The database file on disk: checked before the bot starts, locked to one process, watched while it runs.

At start, :func:`probe_database` checks the file is SQLite and writable, so a wrong DATABASE_PATH is
one line, not a traceback. One bot process per database file: :func:`hold_database_lock`. While
running, the file must stay the one that was opened: deleted or replaced under the bot (``rm``, a
restore moved over it), every later commit would land in a file no restart will see.
:class:`FileWatch` compares the path with the file opened.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import sqlite3
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

logger = logging.getLogger(__name__)


class DatabaseInUse(RuntimeError):
    """Another process holds the database's lock file."""

    def __init__(self, database: Path, holder: str) -> None:
        super().__init__(f"{database} is in use by another process{f' (pid {holder})' if holder else ''}")
        self.database = database
        self.holder = holder  # the pid the holder wrote into the lock file, or "" if unknown


class DatabaseUnusable(RuntimeError):
    """DATABASE_PATH cannot serve as the bot's database; the message says why, in one line."""


def probe_database(database: str | Path, *, switch_to_wal: bool = True) -> None:
    """Check, before the bot starts, that ``database`` is an SQLite file this process can write (or
    can be created); raises :class:`DatabaseUnusable` with a one-line reason otherwise.

    Opens it, reads the schema (a file that is not SQLite fails here), switches it to WAL (which needs
    its ``-wal`` and ``-shm`` files next to it; the bot runs in WAL anyway) and takes the write lock
    inside a transaction it rolls back. A file it had to create and could not use is removed again.
    ``switch_to_wal=False`` (``python -m bot check``, which promises to change nothing) keeps the
    file's journal mode: a file in DELETE mode, as a restore may leave it, stays byte for byte the same.
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
        if switch_to_wal:
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


class FileWatch:
    """Are the database file and its WAL (which holds the latest commits) still the files opened?"""

    def __init__(self, path: Path | None) -> None:
        #: what makes the database unusable (deleted, replaced), or None while it is fine
        self.problem: str | None = None
        self._files: list[tuple[Path, tuple[int, int]]] = []  # by path and identity
        if path is not None:
            path = path.absolute()  # the bot never changes directory, but a test may
            for file in (path, path.with_name(path.name + "-wal")):
                if (identity := _identity(file)) is not None:
                    self._files.append((file, identity))

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
