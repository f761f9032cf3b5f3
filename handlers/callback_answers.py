"""Every tap answered exactly once, by one middleware: handlers only say what the answer shows.

aiogram's ``CallbackAnswerMiddleware`` answers in a ``finally``: a handler that failed gets a blank
answer before the error handler can show its alert, and Telegram refuses the second one. This one
keeps aiogram's :class:`~aiogram.utils.callback_answer.CallbackAnswer` (a handler takes it as
``callback_answer`` and sets ``text`` / ``show_alert``) and answers after the handler returns. A
handler that failed is left to the error handler. A handler about to do something slow stops the
spinner first with :meth:`TapAnswer.now`. An answer Telegram refuses (the tap is too old) is
logged, and the work the handler did stands.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, TelegramObject
from aiogram.utils.callback_answer import CallbackAnswer

logger = logging.getLogger(__name__)


class TapAnswer(CallbackAnswer):
    """The answer to one tap; the middleware sends it unless the handler already did."""

    def __init__(self, query: CallbackQuery) -> None:
        super().__init__(answered=False)
        self._query = query

    def alert(self, text: str) -> None:
        """Show ``text`` in a box the user closes (for refusals and outcomes worth reading)."""
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


class CallbackAnswers(BaseMiddleware):
    """Inner middleware on callback queries: answers each tap after its handler returned."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        answer = data["callback_answer"] = TapAnswer(event)
        result = await handler(event, data)
        await answer.send()
        return result
