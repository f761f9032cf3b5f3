"""Backups of the database: the scheduled job, and ``python -m bot backup [PATH]`` / ``restore PATH``.

The copies themselves (the online backup API, the check, the names, pruning) are :mod:`storage.backup`.
The job runs every BACKUP_INTERVAL_HOURS inside the bot; a failure is logged every time and told to the
admins once per episode, until a backup succeeds again. The commands speak to an operator's terminal:
one plain line each, and an exit status (0 done, 1 the copy failed, 2 refused: usage, or a bot running
on the database a restore would replace).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.notifications import BackupFailed, Notifications
from bot.settings import Settings
from storage.backup import BackupError, backup_into, backup_name, make_copy
from storage.database_file import DatabaseInUse, hold_database_lock
from storage.restore import restore

logger = logging.getLogger(__name__)


class ScheduledBackups:
    """The job: one verified copy into BACKUP_DIR, pruned to BACKUP_KEEP; the admins alerted on the first
    failure of a series (a folder that stays unwritable would otherwise alert every few hours)."""

    def __init__(self, settings: Settings, notifications: Notifications) -> None:
        self.settings = settings
        self.notifications = notifications
        self.failing = False  # the last run failed and the admins were told

    @property
    def seconds(self) -> float | None:
        """Seconds between runs; None when BACKUP_INTERVAL_HOURS is 0 (no scheduled backups)."""
        hours = self.settings.backup_interval_hours
        return hours * 3600 if hours > 0 else None

    async def run(self) -> None:
        """One backup; a failure is logged, and alerted once per episode."""
        settings = self.settings
        try:
            copy = await backup_into(settings.database_path, settings.backup_dir, settings.backup_keep)
        except BackupError as exc:
            logger.error("backup failed: %s", exc)
            if not self.failing:
                self.failing = True
                await self.notifications.alert(BackupFailed(str(exc.path), exc.problem))
            return
        if self.failing:
            logger.info("backups succeed again")
        self.failing = False
        logger.info("backup %s: %d bytes, %d users, %d ledger rows", copy.path, copy.size, copy.users, copy.ledger_rows)


def _say(line: str, *, error: bool = False) -> None:
    print(line, file=sys.stderr if error else sys.stdout)


def backup_command(settings: Settings, args: list[str]) -> int:
    """``python -m bot backup [PATH]``: one verified copy now, safe while the bot runs (it takes no lock).

    No PATH: into BACKUP_DIR under a timestamped name, pruned to BACKUP_KEEP. A PATH that is a folder gets
    a timestamped name inside it (nothing pruned there); any other PATH is the new file's name.
    """
    if len(args) > 1:
        _say("usage: python -m bot backup [PATH]", error=True)
        return 2
    database = settings.database_path
    try:
        if not args:
            copy = asyncio.run(backup_into(database, settings.backup_dir, settings.backup_keep))
        else:
            target = Path(args[0])
            if target.is_dir():
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
    mid-way either. The database replaced is kept next to it (see :func:`storage.backup.restore`).
    """
    if len(args) != 1:
        _say("usage: python -m bot restore PATH", error=True)
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
