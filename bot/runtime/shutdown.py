"""Stopping without cutting a purchase in half: the updates being handled, and a grace period for them.

On SIGTERM / SIGINT the bot first stops taking updates (polling ends; the webhook answers 503), then
waits up to SHUTDOWN_GRACE_SECONDS for what is already under way: a handler that is buying a number
would otherwise be cancelled between the upstream's sale and the charge. :class:`InFlight` is the
outermost middleware on every update (and, in webhook mode, counts the requests still being read and
the tasks that handle them), so the bot knows which updates are under way without reading aiogram's
private task sets; :class:`Grace` is the one deadline the updates and a running job share. Whatever is
still running at the deadline is cancelled; the purchase saga's recovery settles it at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
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
    """Counts the updates being handled (:meth:`install` makes it the outermost middleware on ``dp.update``)
    and, in webhook mode, the requests whose update is still being read (:meth:`arriving`, :meth:`track`).

    Once :meth:`drain` has looked at what is under way it is :attr:`closed`: an update that comes later is
    not handled, since the database closes right after the drain."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._arriving = 0  # webhook requests past the secret check whose body is still being read
        self._none_arriving = asyncio.Event()
        self._none_arriving.set()
        self.closed = False

    def install(self, dp: Dispatcher) -> None:
        """Register first on ``dp.update``, before aiogram's own outer middlewares (errors, user context,
        FSM): an update waiting in one of them (an FSM lock) is under way too."""
        manager = dp.update.outer_middleware
        others = list(manager)
        for middleware in others:
            manager.unregister(middleware)
        manager.register(self)
        for middleware in others:
            manager.register(middleware)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        task = asyncio.current_task()
        if self.closed:  # the drain is over and the database closing: handling it would fail half-way
            logger.warning("update %s came after the shutdown drain: not handled", getattr(event, "update_id", "?"))
            return None
        if task is None or task in self._tasks:  # untracked (not under asyncio), or tracked by :meth:`track`
            return await handler(event, data)
        self._tasks.add(task)
        try:
            return await handler(event, data)
        finally:
            self._tasks.discard(task)

    def track(self, task: asyncio.Task[Any]) -> None:
        """An update's whole handling, from the task's creation (the webhook feeds each update in one)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @contextmanager
    def arriving(self) -> Iterator[None]:
        """A webhook request whose update is being read: the drain waits for it (bounded by its grace),
        so an update Telegram gets a 200 for is not left unhandled."""
        self._arriving += 1
        self._none_arriving.clear()
        try:
            yield
        finally:
            self._arriving -= 1
            if not self._arriving:
                self._none_arriving.set()

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def reading(self) -> int:
        """Webhook requests whose update is still being read."""
        return self._arriving

    async def drain(self, grace: float) -> int:
        """Wait up to ``grace`` seconds for the updates arriving and being handled; cancel the rest.

        Returns how many were cut off. The caller's own task is never waited for (a handler that
        stopped the bot would wait for itself)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        await asyncio.sleep(0)  # an update accepted just before the stop enters this middleware first
        if self._arriving:
            logger.info("waiting up to %.1f s for %d webhook requests being read", grace, self._arriving)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._none_arriving.wait(), grace)
            if self._arriving:
                logger.warning(
                    "%d webhook requests were still being read after the grace period: not taken", self._arriving
                )
        self.closed = True  # from here on an update is refused: what the drain waits for is fixed
        waiting = self._tasks - {asyncio.current_task()}
        if not waiting:
            return 0
        grace = max(deadline - loop.time(), 0.0)
        logger.info("waiting up to %.1f s for %d updates being handled", grace, len(waiting))
        late = await finish_or_cut_off(waiting, grace)
        if late:
            logger.warning("%d updates were still being handled after the grace period: cut off", len(late))
        return len(late)


async def finish_or_cut_off(tasks: set[asyncio.Task[Any]], grace: float) -> set[asyncio.Task[Any]]:
    """Wait up to ``grace`` seconds for ``tasks``; cancel those still running and wait until they have
    stopped (what they use closes right after). Returns the ones cut off."""
    _done, late = await asyncio.wait(tasks, timeout=grace) if grace > 0 and tasks else (set(), set(tasks))
    for task in late:
        task.cancel()
    for task in late:
        with suppress(asyncio.CancelledError, Exception):
            await task
    return late
