"""When Telegram last answered: for ``/readyz``, a keep-alive, and the admins' "Telegram was unreachable".

Every Bot API call passes :class:`AnswerRecorder` (an aiogram session middleware), so any answer counts,
whoever made the call. Long polling asks every few seconds anyway; in webhook mode nothing may be sent
for minutes, so :class:`TelegramWatch` asks ``getMe`` when nothing answered for
:data:`KEEPALIVE_AFTER` seconds. A silence longer than :data:`SILENCE_LIMIT` is an outage: the admins
are told once Telegram answers again (the alert itself travels through Telegram), with its length; an
alert that reached no admin (the network failed again, 429) is sent again on the next tick.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramServerError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.notifications import Notifications, TelegramUnreachable
from bot.runtime.episodes import Clock

logger = logging.getLogger(__name__)

#: Telegram silent this long: not ready, and an outage the admins hear about when it ends
SILENCE_LIMIT = 60.0
#: nothing answered for this long: :class:`TelegramWatch` asks getMe
KEEPALIVE_AFTER = 20.0
#: how often :class:`TelegramWatch` looks
WATCH_EVERY = 5.0
#: the keep-alive's own request timeout
KEEPALIVE_TIMEOUT = 10


class TelegramContact:
    """The time of Telegram's last answer, and the outage that just ended (to be told once)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.since = clock()  # an outage at start counts from the start
        self.last_answer: float | None = None
        self.last_error: str | None = None
        self._ended: TelegramUnreachable | None = None

    def answered(self) -> None:
        now = self.clock()
        silent = now - (self.last_answer if self.last_answer is not None else self.since)
        if silent > SILENCE_LIMIT:
            logger.warning("Telegram answers again after %.0f s", silent)
            self._ended = TelegramUnreachable(seconds=int(silent), error=self.last_error or "no answer")
        self.last_answer = now

    def failed(self, error: str) -> None:
        self.last_error = error

    def silent_for(self) -> float:
        """Seconds since the last answer (since the start when none yet)."""
        return self.clock() - (self.last_answer if self.last_answer is not None else self.since)

    def untold_outage(self) -> TelegramUnreachable | None:
        """The outage that ended and no admin was told of yet; None when there is none to tell."""
        return self._ended

    def told(self, outage: TelegramUnreachable) -> None:
        """``outage`` reached the admins: it is not told again (a newer one that ended meanwhile still is)."""
        if self._ended is outage:
            self._ended = None


class AnswerRecorder(BaseRequestMiddleware):
    """Records every Bot API answer. A refusal (400, 403, 429) is an answer too: Telegram is there. A
    network error or a 5xx (a gateway in front of a failing server) is not."""

    def __init__(self, contact: TelegramContact) -> None:
        self.contact = contact

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        try:
            response = await make_request(bot, method)
        except (TelegramNetworkError, TelegramServerError, OSError, TimeoutError) as exc:
            self.contact.failed(type(exc).__name__)
            raise
        except TelegramAPIError:
            self.contact.answered()
            raise
        self.contact.answered()
        return response


class TelegramWatch:
    """The keep-alive, and the alert for an outage that ended; :meth:`tick` runs every :data:`WATCH_EVERY`."""

    def __init__(self, bot: Bot, contact: TelegramContact, notifications: Notifications) -> None:
        self.bot = bot
        self.contact = contact
        self.notifications = notifications
        self._asked: float | None = None
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> None:
        now = self.contact.clock()
        asked_lately = self._asked is not None and now - self._asked < KEEPALIVE_AFTER
        if self.contact.silent_for() >= KEEPALIVE_AFTER and not asked_lately:
            self._asked = now
            with suppress(TelegramAPIError, OSError, TimeoutError):  # recorded by AnswerRecorder
                await self.bot.get_me(request_timeout=KEEPALIVE_TIMEOUT)
        outage = self.contact.untold_outage()
        if outage is not None and await self.notifications.alert(outage):  # reached nobody: the next tick tries again
            self.contact.told(outage)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="telegram-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(WATCH_EVERY)
            try:
                await self.tick()
            except Exception:  # the watch must outlive one failed alert
                logger.exception("Telegram watch failed")
