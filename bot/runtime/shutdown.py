"""Stopping without cutting a purchase in half: the updates being handled, and a grace period for them.

On SIGTERM / SIGINT the bot first stops taking updates (polling ends; the webhook answers 503), then
waits up to SHUTDOWN_GRACE_SECONDS for what is already under way: a handler that is buying a number
would otherwise be cancelled between the upstream's sale and the charge. :class:`InFlight` is an outer
middleware on every update, so the bot knows which updates are being handled without reading aiogram's
private task sets; :class:`Grace` is the one deadline the updates and a running job share. Whatever is
still running at the deadline is cancelled; the purchase saga's recovery settles it at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

logger = logging.getLogger(__name__)


class Grace:
    """One deadline, SHUTDOWN_GRACE_SECONDS from when the stop began, shared by everything that drains."""

    def __init__(self, seconds: float) -> None:
        self._loop = asyncio.get_running_loop()
        self.deadline = self._loop.time() + seconds

    def left(self) -> float:
        return max(self.deadline - self._loop.time(), 0.0)


class InFlight(BaseMiddleware):
    """Counts the updates being handled (register it as the first outer middleware on ``dp.update``)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        task = asyncio.current_task()
        if task is None:  # not reachable under asyncio; handled untracked rather than refused
            return await handler(event, data)
        self._tasks.add(task)
        try:
            return await handler(event, data)
        finally:
            self._tasks.discard(task)

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, grace: float) -> int:
        """Wait up to ``grace`` seconds for the updates being handled; cancel the rest.

        Returns how many were cut off. The caller's own task is never waited for (a handler that
        stopped the bot would wait for itself)."""
        await asyncio.sleep(0)  # an update accepted just before the stop enters this middleware first
        waiting = self._tasks - {asyncio.current_task()}
        if not waiting:
            return 0
        logger.info("waiting up to %.1f s for %d updates being handled", grace, len(waiting))
        _done, late = await asyncio.wait(waiting, timeout=grace) if grace > 0 else (set(), waiting)
        for task in late:
            task.cancel()
        for task in late:
            with suppress(asyncio.CancelledError, Exception):
                await task
        if late:
            logger.warning("%d updates were still being handled after the grace period: cut off", len(late))
        return len(late)
