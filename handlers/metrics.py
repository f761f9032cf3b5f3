"""The Telegram side's metrics: updates in (by type, and how long handling took) and Bot API calls out
(by method, and their errors by kind).

:class:`UpdateMetrics` is the first outer middleware on the update observer, so it counts every
update (dropped by flood control, refused, failed or handled) and times the whole of its handling. It
reads only the update: no database, no user record. :class:`BotApiMetrics` sits in the Bot's session
and sees every request the bot sends. Labels are an update type or a method name and an error kind,
never a user or chat id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    RestartingTelegram,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update

from bot.runtime.metrics import BOT_API_ERRORS, BOT_API_REQUESTS, UPDATE_SECONDS, UPDATES

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

logger = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

#: Bot API errors and their label, most specific first (a 429 is also a TelegramAPIError)
API_ERRORS: tuple[tuple[type[BaseException], str], ...] = (
    (TelegramRetryAfter, "429"),
    (TelegramMigrateToChat, "400"),
    (TelegramBadRequest, "400"),
    (TelegramUnauthorizedError, "401"),
    (TelegramForbiddenError, "403"),
    (TelegramNotFound, "404"),
    (TelegramConflictError, "409"),
    (TelegramEntityTooLarge, "413"),
    (RestartingTelegram, "5xx"),
    (TelegramServerError, "5xx"),
    (TelegramNetworkError, "network"),
    (TelegramAPIError, "other"),
)


def update_type(event: TelegramObject) -> str:
    """``message``, ``callback_query``, ... ; ``unknown`` for an update of a type aiogram does not know."""
    if not isinstance(event, Update):
        return type(event).__name__.lower()
    try:
        return event.event_type
    except Exception:  # aiogram's UpdateTypeLookupError: a type newer than this aiogram
        return "unknown"


def api_error(exc: BaseException) -> str:
    """The label of a failed Bot API request: the HTTP status Telegram answered, ``network``, ``other``."""
    return next((label for cls, label in API_ERRORS if isinstance(exc, cls)), "other")


class UpdateMetrics(BaseMiddleware):
    """Counts each update as it comes in (so a reply can never be seen before its count) and observes
    its handling time when it is done, whether it succeeded or raised."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        kind = update_type(event)
        UPDATES.labels(kind).inc()
        started = time.perf_counter()
        try:
            return await handler(event, data)
        finally:
            UPDATE_SECONDS.labels(kind).observe(time.perf_counter() - started)


class BotApiMetrics(BaseRequestMiddleware):
    """Counts every Bot API request by method, and the failed ones by method and error kind."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        BOT_API_REQUESTS.labels(name).inc()
        try:
            return await make_request(bot, method)
        except Exception as exc:
            BOT_API_ERRORS.labels(name, api_error(exc)).inc()
            raise
