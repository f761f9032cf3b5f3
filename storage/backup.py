"""Verified online copies of the database, and the names and pruning of the copies it keeps.

The copy is SQLite's online backup API (``sqlite3.Connection.backup``) from a connection of its own, in a
worker thread: it needs no lock the running bot holds, and in WAL mode it reads one consistent snapshot
while the bot goes on writing. It is written under a hidden temporary name and renamed only once it
passed its check, so a file under a backup's name is always a whole, verified copy.

The check (:func:`verify`): ``PRAGMA integrity_check``, the bot's own schema (no newer than this code
knows), and every user's balance equal to the sum of their ledger rows (:func:`storage.ledger.discrepancies`,
what the money audit reads). A copy is a rollback-journal file on its own: no ``-wal`` belongs to it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from storage import ledger
from storage.migrations.runner import MIGRATIONS

logger = logging.getLogger(__name__)

#: the backups this module makes and prunes: ``backup-<UTC time to the microsecond>.sqlite3``, sorting by time
NAME = re.compile(r"^backup-\d{8}T\d{6}\.\d{6}Z\.sqlite3$")


class BackupError(Exception):
    """A copy could not be made, or failed its check; ``str()`` is one line naming the file and why."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Copy:
    """A verified copy: where it is, its size in bytes, and how many users and ledger rows it holds."""

    path: Path
    size: int
    users: int
    ledger_rows: int


def backup_name(now: datetime | None = None) -> str:
    """A backup's file name for ``now`` (UTC): names sort in the order they were taken."""
    return f"backup-{(now or datetime.now(UTC)).astimezone(UTC):%Y%m%dT%H%M%S.%fZ}.sqlite3"


def _copy_pages(source: Path, target: Path, partial: Path) -> None:
    """The backup API, ``source`` to the new file ``partial``, all pages in one step (one snapshot), then
    the copy switched to a rollback journal so it is whole on its own."""
    if not source.is_file():  # connect() would create an empty database there
        raise BackupError(source, "no database file there")
    if target.exists():
        raise BackupError(target, "already exists; choose a new name")
    try:
        dst = sqlite3.connect(partial)
        dst.execute("PRAGMA user_version")  # opens the file now: an unwritable folder fails here, named so
    except sqlite3.Error as exc:
        raise BackupError(target, f"cannot be written ({exc})") from None
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            src.backup(dst)
        finally:
            src.close()
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()


async def verify(path: Path) -> Copy:
    """Check the copy at ``path`` (see the module docstring); raises :class:`BackupError` saying what fails."""
    try:
        async with aiosqlite.connect(_read_only(path), uri=True) as conn:
            async with conn.execute("PRAGMA integrity_check") as cur:
                problems = [" ".join(str(row[0]).split()) for row in await cur.fetchall()]  # one line each
            if problems != ["ok"]:
                raise BackupError(path, f"integrity check failed: {'; '.join(problems[:3])}")
            async with conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
                tables = {row[0] for row in await cur.fetchall()}
            if not {"users", "ledger"} <= tables:
                raise BackupError(path, "not a database of this bot (no users and ledger tables)")
            async with conn.execute("PRAGMA user_version") as cur:
                version = int((await cur.fetchone() or (0,))[0])
            if version > len(MIGRATIONS):
                raise BackupError(path, f"made by a newer bot (schema {version}, this one knows {len(MIGRATIONS)})")
            wrong = await ledger.discrepancies(conn)
            if wrong:
                user_id, cached, total = wrong[0]
                raise BackupError(
                    path,
                    f"{len(wrong)} balances differ from their ledger sums (user {user_id}: {cached} against {total})",
                )
            async with conn.execute("SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM ledger)") as cur:
                users, rows = await cur.fetchone() or (0, 0)
    except sqlite3.DatabaseError as exc:
        raise BackupError(path, f"not a usable SQLite database ({exc})") from None
    return Copy(path, await asyncio.to_thread(_size, path), int(users), int(rows))


def _read_only(path: Path) -> str:
    """The URI that opens ``path`` read-only: checking a copy never changes it."""
    return f"{path.absolute().as_uri()}?mode=ro"


def _discard(partial: Path) -> None:
    """Remove a temporary copy (and a journal its writer left), if there is one."""
    for file in (partial, partial.with_name(partial.name + "-journal")):
        with suppress(OSError):
            file.unlink()


def _size(path: Path) -> int:
    return path.stat().st_size


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: not every filesystem allows it)."""
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


async def make_copy(source: Path, target: Path) -> Copy:
    """A verified copy of the database ``source`` at ``target``, which must not exist yet.

    Written as ``.<target name>.partial`` next to it and renamed once verified; on any failure the
    partial file is removed and :class:`BackupError` says why. Never blocks the event loop.
    """
    partial = target.with_name(f".{target.name}.partial")
    try:
        await asyncio.to_thread(_copy_pages, source, target, partial)
        try:
            copy = await verify(partial)
        except BackupError as exc:  # named after the database copied: the temporary name means nothing to anyone
            raise BackupError(source, exc.problem) from None
        await asyncio.to_thread(os.replace, partial, target)
        await asyncio.to_thread(fsync_dir, target.parent)
    except sqlite3.Error as exc:
        raise BackupError(source, f"cannot be copied ({exc})") from None
    except OSError as exc:
        raise BackupError(target, f"cannot be written ({exc.strerror or exc})") from None
    finally:
        await asyncio.to_thread(_discard, partial)
    return Copy(target, copy.size, copy.users, copy.ledger_rows)


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest backups in ``directory``; returns what it deleted. Only files
    named as this module names them (:data:`NAME`) are counted or touched."""
    ours = sorted(p for p in directory.iterdir() if NAME.match(p.name) and p.is_file())
    gone = ours[: max(len(ours) - keep, 0)]
    for path in gone:
        path.unlink()
        logger.info("pruned backup %s", path)
    return gone


def taken_at(name: str) -> datetime | None:
    """When the backup named ``name`` was taken (its name says it, to the microsecond); None: not ours."""
    if not NAME.match(name):
        return None
    return datetime.strptime(name[len("backup-") : -len(".sqlite3")], "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)


def newest(directory: Path) -> datetime | None:
    """When the newest backup in ``directory`` was taken; None when it holds none (or cannot be read)."""
    try:
        times = [taken_at(p.name) for p in directory.iterdir()]
    except OSError:
        return None
    return max((t for t in times if t is not None), default=None)


async def backup_into(source: Path, directory: Path, keep: int, now: datetime | None = None) -> Copy:
    """A verified copy of ``source`` into ``directory`` under a timestamped name, then the directory
    pruned to ``keep`` backups. Raises :class:`BackupError`."""
    try:
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(directory, f"cannot create the backup folder ({exc.strerror or exc})") from None
    copy = await make_copy(source, directory / backup_name(now))
    try:
        await asyncio.to_thread(prune, directory, keep)
    except OSError as exc:  # the copy is made; an old one left over is no reason to call it failed
        logger.warning("cannot prune backups in %s: %s", directory, exc)
    return copy
