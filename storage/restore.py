"""Restoring a backup: a verified copy of it put in place of the database in one atomic rename, the database
it replaces kept beside it.

At no point is there no whole database at DATABASE_PATH: the old file is kept under its new name by a hard
link (or a copy), its ``-wal`` / ``-shm`` / ``-journal`` moved to that name, and only then does one
``os.replace`` put the verified copy in its place. A crash or a full disk before that rename leaves the old
database where it was; after it, the restored one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from storage.backup import BackupError, Copy, fsync_dir, make_copy

logger = logging.getLogger(__name__)


def _clear(path: Path) -> None:
    with suppress(FileNotFoundError):
        path.unlink()


@dataclass(frozen=True, slots=True)
class Restored:
    """What a restore did: the copy now in place, and where the database it replaced was kept (None: none)."""

    copy: Copy
    kept: Path | None


SIDECARS = ("-wal", "-shm", "-journal")


def _keep_aside(database: Path, aside: Path) -> bool:
    """Keep the database as ``aside`` without moving it: a hard link (a copy where the filesystem has
    none), after a checkpoint that folds the WAL into the file. Its ``-wal`` / ``-shm`` / ``-journal`` move
    to ``aside`` (same suffixes) whatever happens, also beside a missing file: left next to the restored
    file, SQLite would replay them into it. The file itself stays at ``database`` until the one atomic
    rename that puts the copy there, so a crash at any point leaves a whole database at that path."""
    exists = database.exists()
    if exists:
        with suppress(sqlite3.Error):
            conn = sqlite3.connect(database, timeout=5)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()
        try:
            os.link(database, aside)
        except FileExistsError:  # never overwrite a database kept before
            raise
        except OSError:  # no hard links here (some network or FAT filesystems): a full copy
            shutil.copy2(database, aside)
            with open(aside, "rb+") as kept:
                os.fsync(kept.fileno())
    for suffix in SIDECARS:
        file = database.with_name(database.name + suffix)
        if file.exists():
            os.replace(file, aside.with_name(aside.name + suffix))
    return exists


async def restore(backup: Path, database: Path, now: datetime | None = None) -> Restored:
    """Put a verified copy of ``backup`` in place of ``database``; the old database (with its WAL) is kept
    as ``<database>.before-restore-<time>``. The caller holds the database's lock
    (:func:`storage.database_file.hold_database_lock`), so no bot has it open. Raises :class:`BackupError`
    before touching the database when ``backup`` fails its check."""
    stamp = f"{(now or datetime.now(UTC)).astimezone(UTC):%Y%m%dT%H%M%S}Z"
    incoming = database.with_name(f".{database.name}.restoring")
    await asyncio.to_thread(_clear, incoming)  # left by a restore that was killed: never verified, never used
    try:
        copy = await make_copy(backup, incoming)
    except BackupError as exc:
        raise BackupError(exc.path, f"{exc.problem}; nothing was changed") from None
    aside = database.with_name(f"{database.name}.before-restore-{stamp}")
    try:
        kept = await asyncio.to_thread(_keep_aside, database, aside)
        await asyncio.to_thread(os.replace, incoming, database)  # the one step that changes DATABASE_PATH
        await asyncio.to_thread(fsync_dir, database.parent)
    except OSError as exc:
        with suppress(OSError):
            incoming.unlink()
        where = f"; it is unchanged (also kept as {aside})" if aside.exists() else ""
        raise BackupError(database, f"cannot be replaced ({exc.strerror or exc}){where}") from None
    logger.info("restored %s from %s; the previous database is kept as %s", database, backup, aside if kept else None)
    return Restored(Copy(database, copy.size, copy.users, copy.ledger_rows), aside if kept else None)
