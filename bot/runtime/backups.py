"""Backups of the database: the scheduled job, and ``python -m bot backup [PATH]`` / ``restore PATH``.

The copies themselves (the online backup API, the check, the names, pruning) are :mod:`storage.backup`.
The job runs every BACKUP_INTERVAL_HOURS inside the bot, counted from the newest backup in BACKUP_DIR (a
restart does not put it off); a failure is logged every time and told to the admins once per episode,
until a backup succeeds again. The commands speak to an operator's terminal:
one plain line each, and an exit status (0 done, 1 the copy failed, 2 refused: usage, or a bot running
on the database a restore would replace).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.notifications import BackupFailed, Notifications
from bot.runtime.episodes import Episode
from bot.runtime.metrics import LAST_BACKUP
from bot.settings import Settings
from storage.backup import BackupError, backup_into, backup_name, make_copy, newest
from storage.database_file import DatabaseInUse, hold_database_lock
from storage.restore import restore

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
EPOCH = datetime.fromtimestamp(0, UTC)


#: the first backup after a start waits this long when one is overdue (or none exists): the bot starts first
FIRST_RUN_DELAY = timedelta(seconds=60)


class ScheduledBackups:
    """The job: one verified copy into BACKUP_DIR, pruned to BACKUP_KEEP; the admins alerted on the first
    failure of a series (a folder that stays unwritable would otherwise alert every few hours), and again
    at the next run if that alert reached no admin."""

    def __init__(self, settings: Settings, notifications: Notifications) -> None:
        self.settings = settings
        self.notifications = notifications
        self.failing = Episode()  # the runs fail: told once, re-armed by a backup that works

    @property
    def seconds(self) -> float | None:
        """Seconds between runs; None when BACKUP_INTERVAL_HOURS is 0 (no scheduled backups)."""
        hours = self.settings.backup_interval_hours
        return hours * 3600 if hours > 0 else None

    def first_run(self, now: datetime) -> datetime:
        """When the first run after a start is due: one interval after the newest backup in BACKUP_DIR, so a
        bot restarted more often than the interval still makes them; soon when that is past or there is
        none; never later than one interval from now (a backup named in the future)."""
        interval = timedelta(seconds=self.seconds or 0)
        taken = newest(self.settings.backup_dir)
        due = now if taken is None else taken + interval
        return min(max(due, now + FIRST_RUN_DELAY), now + interval)

    def schedule(self, scheduler: AsyncIOScheduler, tracked: Callable[[Job], Job], options: dict[str, Any]) -> None:
        """Add the job (none when BACKUP_INTERVAL_HOURS is 0), and the /metrics gauge of the newest backup.

        None on PostgreSQL either: the copies are of an SQLite file, and a server is backed up by its own
        tools (pg_dump, or the host's snapshots), once for every replica rather than by each."""
        if self.settings.postgres_url:
            logger.info("scheduled backups are off on PostgreSQL: back the database up with pg_dump")
            return
        directory = self.settings.backup_dir
        LAST_BACKUP.set_function(lambda: (newest(directory) or EPOCH).timestamp())
        if self.seconds is None:
            return
        first = self.first_run(datetime.now(UTC))
        logger.info("backups every %g h into %s; the next at %s", self.seconds / 3600, directory, f"{first:%H:%M:%S}Z")
        scheduler.add_job(
            tracked(self.run), "interval", seconds=self.seconds, id="backup", next_run_time=first, **options
        )

    async def run(self) -> None:
        """One backup; a failure is logged, and alerted once per episode (until an admin got it)."""
        settings = self.settings
        try:
            copy = await backup_into(settings.database_path, settings.backup_dir, settings.backup_keep)
        except BackupError as exc:
            logger.error("backup failed: %s", exc)
            if self.failing.due(True):
                self.failing.sent(await self.notifications.alert(BackupFailed(str(exc.path), exc.problem)))
            return
        if self.failing.active:
            logger.info("backups succeed again")
        self.failing.begins(False)
        logger.info("backup %s: %d bytes, %d users, %d ledger rows", copy.path, copy.size, copy.users, copy.ledger_rows)


def _say(line: str, *, error: bool = False) -> None:
    print(line, file=sys.stderr if error else sys.stdout)


def refused_on_postgres(settings: Settings, command: str) -> bool:
    """On PostgreSQL, say in one line that the server's own tools do this, and True (exit status 2)."""
    if not settings.postgres_url:
        return False
    how = "back it up with pg_dump" if command == "backup" else "restore a pg_dump copy with pg_restore"
    _say(f"{command} refused: DATABASE_URL is PostgreSQL: {how}", error=True)
    return True


def backup_command(settings: Settings, args: list[str]) -> int:
    """``python -m bot backup [PATH]``: one verified copy now, safe while the bot runs (it takes no lock).

    No PATH: into BACKUP_DIR under a timestamped name, pruned to BACKUP_KEEP. A PATH that is a folder, or
    ends with "/" (the folder is made), gets a timestamped name inside it (nothing pruned there); any
    other PATH is the new file's name.
    """
    if len(args) > 1:
        _say("usage: python -m bot backup [PATH]", error=True)
        return 2
    if refused_on_postgres(settings, "backup"):
        return 2
    database = settings.database_path
    try:
        if not args:
            copy = asyncio.run(backup_into(database, settings.backup_dir, settings.backup_keep))
        else:
            target = Path(args[0])
            if args[0].endswith(("/", os.sep)) or target.is_dir():  # "new/" names a folder, as cp reads it
                try:
                    target.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise BackupError(target, f"cannot create the folder ({exc.strerror or exc})") from None
                target = target / backup_name(datetime.now(UTC))
            if target.absolute() == database.absolute():
                _say(f"backup refused: {target} is the database itself", error=True)
                return 2
            copy = asyncio.run(make_copy(database, target))
    except BackupError as exc:
        _say(f"backup failed: {exc}", error=True)
        return 1
    _say(f"backup written: {copy.path} ({copy.size} bytes, {copy.users} users, {copy.ledger_rows} ledger rows)")
    return 0


def restore_command(settings: Settings, args: list[str]) -> int:
    """``python -m bot restore PATH``: replace the database with a verified copy of PATH.

    Refused while a bot runs on the database: its lock is taken for the whole restore, so none starts
    mid-way either. The database replaced is kept next to it (see :func:`storage.restore.restore`).
    """
    if len(args) != 1:
        _say("usage: python -m bot restore PATH", error=True)
        return 2
    if refused_on_postgres(settings, "restore"):
        return 2
    backup, database = Path(args[0]), settings.database_path
    if backup.absolute() == database.absolute():
        _say(f"restore refused: {backup} is the database itself", error=True)
        return 2
    try:
        lock = hold_database_lock(database)
    except DatabaseInUse as exc:
        holder = f" (pid {exc.holder})" if exc.holder else ""
        _say(f"restore refused: a bot is running on {database.absolute()}{holder}; stop it first", error=True)
        return 2
    except OSError as exc:
        _say(f"restore refused: cannot lock {database.absolute()}: {exc}", error=True)
        return 2
    try:
        done = asyncio.run(restore(backup, database))
    except BackupError as exc:
        _say(f"restore failed: {exc}", error=True)
        return 1
    finally:
        lock.close()
    copy = done.copy
    kept = f"the previous database is kept as {done.kept}" if done.kept else "there was no database before"
    _say(f"restored {database} from {backup} ({copy.users} users, {copy.ledger_rows} ledger rows); {kept}")
    return 0
