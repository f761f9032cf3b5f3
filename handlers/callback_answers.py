"""Every tap answered exactly once, by one middleware: handlers only say what the answer shows.

aiogram's ``CallbackAnswerMiddleware`` answers in a ``finally``: a handler that failed gets a blank
answer before the error handler can show its alert, and Telegram refuses the second one. This one
keeps aiogram's :class:`~aiogram.utils.callback_answer.CallbackAnswer` (a handler takes it as
``callback_answer`` and sets ``text`` / ``show_alert``) and answers after the handler returns, or,
when handling raised, after the error handlers ran (they take the same ``callback_answer``): so a tap
is answered even when no handler took it or the error handler had nothing to say (the user blocked the
bot meanwhile). A handler about to do something slow stops the spinner first with
:meth:`TapAnswer.now`. An answer Telegram refuses (the tap is too old) is logged, and the work the
handler did stands. Taps dropped before routing (flood, ban) are answered where they are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import CancelHandler, SkipHandler
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, ErrorEvent, TelegramObject
from aiogram.utils.callback_answer import CallbackAnswer

logger = logging.getLogger(__name__)


class TapAnswer(CallbackAnswer):
    """The answer to one tap; the middleware sends it unless the handler already did."""

    def __init__(self, query: CallbackQuery) -> None:
        super().__init__(answered=False)
        self._query = query

    def alert(self, text: str) -> None:
        """Show ``text`` in a box the user closes (for refusals and outcomes worth reading); too late, and
        a no-op, once the tap is answered."""
        if self.answered:
            return
        self.text = text
        self.show_alert = True

    async def now(self, text: str | None = None, *, show_alert: bool | None = None) -> None:
        """Answer at once (before slow work): the button stops spinning and shows ``text``, if any.
        Once answered, a tap cannot be answered again: a second call does nothing."""
        if self.answered:
            return
        if text is not None:
            self.text = text
        if show_alert is not None:
            self.show_alert = show_alert
        await self.send()

    async def send(self) -> None:
        """Send the answer once. It counts as sent even when Telegram refuses it: a refused answer
        (the tap is too old) cannot be sent again."""
        if self.answered or self.disabled:
            return
        self._answered = True
        try:
            await self._query.answer(text=self.text, show_alert=self.show_alert)
        except TelegramAPIError as exc:
            logger.info("callback %s not answered: %s", self._query.id, exc)


#: the next step of a tap's (or an error's) processing, as a middleware receives it
Handler = Callable[[Any, dict[str, Any]], Awaitable[Any]]


class CallbackAnswers:
    """Two outer middlewares of the root router: on taps, before any filter, and on errors. A tap is
    answered when its routing returns; when it raised, its answer waits for the error handlers."""

    def __init__(self) -> None:
        self._failed: dict[str, TapAnswer] = {}  # query id -> the answer of a tap whose handling raised

    def setup(self, router: Router) -> None:
        router.callback_query.outer_middleware(self._tap)
        router.errors.outer_middleware(self._error)

    async def _tap(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        answer = data["callback_answer"] = TapAnswer(event)
        try:
            result = await handler(event, data)
        except (SkipHandler, CancelHandler):  # not errors: no error handler will run
            await answer.send()
            raise
        except Exception:
            self._failed[event.id] = answer  # the error handlers say what it shows; _error sends it
            raise
        await answer.send()  # a handler took it, or none did
        return result

    async def _error(self, handler: Handler, event: ErrorEvent, data: dict[str, Any]) -> Any:
        query = event.update.callback_query
        if query is None:
            return await handler(event, data)
        answer = self._failed.pop(query.id, None) or TapAnswer(query)  # else it failed before routing
        data["callback_answer"] = answer
        try:
            return await handler(event, data)
        finally:
            await answer.send()
