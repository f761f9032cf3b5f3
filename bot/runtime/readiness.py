"""The checks behind ``/readyz``: the database takes a write, the scheduler runs, the poll cycle keeps up,
Telegram answers.

The parts are built one after another while the bot starts (the server answers before the database is
open), so :class:`ReadinessChecks` holds them as they come and a part not there yet is a failing check.
The database check is a real committed write on the bot's own connection: a rolled-back write never
leaves SQLite's page cache, so only a commit finds a read-only file or a full disk.
"""

from __future__ import annotations

import asyncio
import logging
import time

from apscheduler.schedulers.base import STATE_PAUSED, STATE_STOPPED, BaseScheduler

from bot.runtime.episodes import Clock, PollHeartbeat
from bot.runtime.health import Readiness
from bot.runtime.telegram_contact import SILENCE_LIMIT, TelegramContact
from storage.backends import Store
from storage.db import DatabaseGone

logger = logging.getLogger(__name__)

#: a write the database has not taken within this many seconds fails the check (busy, or a stalled disk)
WRITE_TIMEOUT = 3.0
#: a write's result serves checks for this long: a burst of probes costs one commit
WRITE_FRESH_SECONDS = 2.0

Result = tuple[bool, str]


class ReadinessChecks:
    """The four checks over the parts the start has built so far."""

    def __init__(self, contact: TelegramContact, clock: Clock = time.monotonic) -> None:
        self.contact = contact
        self.clock = clock
        self.db: Store | None = None
        self.scheduler: BaseScheduler | None = None
        self.poll: PollHeartbeat | None = None
        self._write: asyncio.Task[None] | None = None
        self._written_at = 0.0
        self._database_ok: bool | None = None  # the last answer: a change is logged

    def install(self, readiness: Readiness) -> None:
        readiness.add("telegram", self.telegram)
        readiness.add("database", self.database)
        readiness.add("scheduler", self.scheduler_runs)
        readiness.add("poll", self.poll_cycle)

    async def database(self) -> Result:
        """A committed write, at most every :data:`WRITE_FRESH_SECONDS`. A write that hangs is not cancelled
        (a cancelled BEGIN would leave the shared connection inside a transaction): the next checks wait
        for it rather than start another. A change of the answer is logged once, not every probe."""
        if self.db is None:
            return False, "not open yet"
        ok, detail = await self._database(self.db)
        changed, self._database_ok = self._database_ok is not None and ok != self._database_ok, ok
        if changed:
            if ok:
                logger.info("readiness: the database takes writes again")
            else:
                logger.warning("readiness: the database is not ready: %s", detail)
        return ok, detail

    async def _database(self, db: Store) -> Result:
        if not db.check():
            return False, db.problem or "unusable"
        stale = self.clock() - self._written_at >= WRITE_FRESH_SECONDS
        if self._write is None or (self._write.done() and stale):
            self._write = asyncio.create_task(db.probe_write(), name="readiness-write")
            self._written_at = self.clock()
        done, _ = await asyncio.wait({self._write}, timeout=WRITE_TIMEOUT)
        if not done:
            return False, f"no write taken within {WRITE_TIMEOUT:g} s"
        if self._write.cancelled():
            return False, "the write was cancelled"
        error = self._write.exception()
        if isinstance(error, DatabaseGone):
            return False, error.problem
        if error is not None:
            return False, f"cannot write: {error}"
        return True, "takes writes"

    def scheduler_runs(self) -> Result:
        scheduler = self.scheduler
        if scheduler is None or scheduler.state == STATE_STOPPED:
            return False, "not running"
        if scheduler.state == STATE_PAUSED:
            return False, "paused"
        return True, f"running, {len(scheduler.get_jobs())} jobs"

    def poll_cycle(self) -> Result:
        poll = self.poll
        lag = poll.lag() if poll is not None else None
        if poll is None or lag is None:
            return False, "not scheduled yet"
        if poll.finished is None:
            what = f"no run finished yet, scheduled {lag:.0f} s ago"
        else:
            what = f"last run finished {lag:.1f} s ago"
        if lag > poll.limit:
            return False, f"{what}; more than {poll.limit:g} s"
        return True, what

    def telegram(self) -> Result:
        contact = self.contact
        if contact.last_answer is None:
            error = f" ({contact.last_error})" if contact.last_error else ""
            return False, f"not reached yet{error}"
        silent = contact.silent_for()
        if silent > SILENCE_LIMIT:
            return False, f"no answer for {silent:.0f} s ({contact.last_error or 'no request'})"
        return True, f"answered {silent:.0f} s ago"
