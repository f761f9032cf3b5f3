"""Every log line written while an update is handled names that update and its sender.

:class:`LogContextMiddleware` is the first of the bot's outer middlewares on the update observer: it
binds ``update_id`` and ``user_id`` (:mod:`bot.runtime.log_context`) for the whole of the update's
handling (the other middlewares, the handler, the services it calls), so with ``LOG_FORMAT=json``
an operator can pull every line of one user's trouble out of the log. It only reads the update:
no database, nothing that could fail.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TgUser

from bot.runtime.log_context import bind

logger = logging.getLogger(__name__)


class LogContextMiddleware(BaseMiddleware):
    """Binds the update's id and its sender's id (None when it has none: a channel post, a poll) for the
    rest of the update's handling, and logs its arrival at DEBUG."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):  # registered on another observer by mistake: nothing to bind
            return await handler(event, data)
        sender: TgUser | None = data.get("event_from_user")  # aiogram's own middleware set it, before ours
        user_id = sender.id if sender is not None else None
        with bind(update_id=event.update_id, user_id=user_id):
            logger.debug("update %d from user %s", event.update_id, user_id)
            return await handler(event, data)
