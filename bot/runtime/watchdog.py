"""Watching the database file while the bot runs.

:meth:`storage.db.Database.check` already runs before every transaction; this also notices a
deletion while nothing is written (a quiet night), within ``interval`` seconds, and then runs the
reactions once: pause the scheduled jobs, alert the admins.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress

from storage.backends import Store

logger = logging.getLogger(__name__)

#: seconds between two checks of the database file (a stat call or two)
CHECK_INTERVAL = 1.0

Reaction = Callable[[str], Awaitable[None]]


class DatabaseWatchdog:
    def __init__(self, db: Store, reactions: Sequence[Reaction], interval: float = CHECK_INTERVAL) -> None:
        self.db = db
        self.reactions = list(reactions)
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="database-watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        while True:
            if not self.db.check():
                break
            await asyncio.sleep(self.interval)
        problem = self.db.problem or "database unusable"
        for reaction in self.reactions:
            try:
                await reaction(problem)
            except Exception:  # one failing reaction must not keep the others from running
                logger.exception("reaction to the unusable database failed")
