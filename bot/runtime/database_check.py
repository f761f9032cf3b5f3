"""The database line of ``python -m bot check``: the SQLite file, or the PostgreSQL server DATABASE_URL names.

Like the rest of the check, it creates, migrates and changes nothing. An SQLite file is probed with a
rolled-back write only when no bot holds its lock (the probe would queue behind the bot's writes), else
only read. A PostgreSQL server is asked whether it answers and which schema version it holds; its URL is
shown with its passwords masked (:func:`bot.runtime.logs.shown_url`), never as given.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

import asyncpg

from bot.runtime.logs import shown_url
from storage.database_file import DatabaseUnusable, lock_path, probe_database
from storage.migrations import MIGRATIONS
from storage.migrations.postgres import POSTGRES, version
from storage.postgres import dsn_of

Line = tuple[bool, str]  # (passed, "name: detail")


async def postgres_line(url: str, seconds: float) -> Line:
    """Does the PostgreSQL server answer, and is its schema one this bot can run? Read only."""
    where = f"PostgreSQL at {shown_url(url)}"
    try:
        conn = await asyncpg.connect(dsn_of(url), timeout=seconds)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return False, f"database: {where} cannot be reached: {exc or type(exc).__name__}"
    try:
        current = await version(conn)
    except asyncpg.PostgresError as exc:
        return False, f"database: {where} cannot be read: {exc}"
    finally:
        await conn.close()
    latest = max(POSTGRES)
    if current > latest:
        return False, f"database: {where} has schema version {current}, newer than this bot's ({latest})"
    if current == 0:
        return True, f"database: {where} answers; empty, the bot creates the schema at start"
    schema = "schema up to date" if current == latest else f"schema version {current}, migrated to {latest} at start"
    return True, f"database: {where}, {schema}"


def sqlite_line(path: Path) -> Line:
    """The database file: usable by the bot, its schema one this bot can run (blocking: call in a thread)."""
    where = path.absolute()
    if not path.exists():
        folder = next(p for p in [where, *where.parents] if p.exists())
        if folder.is_dir() and os.access(folder, os.W_OK | os.X_OK):
            return True, f"database: {where} does not exist yet; the bot creates it at start"
        return False, f"database: {where} does not exist and cannot be created: {folder} is not a writable folder"
    if not path.is_file():
        return False, f"database: {where} is not a file"
    holder = running_bot(path)
    try:
        if holder is None:
            probe_database(path, switch_to_wal=False)  # a write in a transaction rolled back: nothing changes
        current = schema_version(path)
    except DatabaseUnusable as exc:
        return False, f"database: {exc}"
    latest = len(MIGRATIONS)
    if current > latest:
        return (
            False,
            f"database: {where} has schema version {current}, newer than this bot's ({latest})",
        )
    schema = "schema up to date" if current == latest else f"schema version {current}, migrated to {latest} at start"
    in_use = "" if holder is None else f"; in use by a running bot{f' (pid {holder})' if holder else ''}, only read"
    return True, f"database: {where}, {schema}{in_use}"


def running_bot(path: Path) -> str | None:
    """The pid of the bot holding the database's lock ("" if it wrote none), None when no bot holds it.

    Takes a shared lock for a moment, never creating the lock file: a running bot holds it exclusively.
    """
    try:
        handle = lock_path(path).open("rb")
    except OSError:  # none (no bot ever ran here), or unreadable: the probe then says what is wrong
        return None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = handle.read(32).decode(errors="replace").strip()
            return holder if holder.isdigit() else ""
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None


def schema_version(path: Path) -> int:
    """``PRAGMA user_version`` read through a read-only connection; DatabaseUnusable if it is not SQLite."""
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.absolute()))}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        raise DatabaseUnusable(f"cannot open {path.absolute()}: {exc}") from None
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise DatabaseUnusable(f"cannot read {path.absolute()}: {exc}") from None
    finally:
        conn.close()
