"""Per-update concerns only: flood control, the user's language, registering the sender (handed to
handlers as ``user``)."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Chat, TelegramObject, Update
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n, SimpleI18nMiddleware
from aiolimiter import AsyncLimiter

from bot import languages
from bot.people import People
from handlers.texts import refusals
from storage.users import User

logger = logging.getLogger(__name__)

#: the next step of an update's processing, as a middleware receives it
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def locale_for(i18n: I18n, language_code: str | None) -> str:
    """The translation for a Telegram ``language_code`` (``pt-br``, ``en``, empty, odd): else the default."""
    return languages.match(language_code, i18n.available_locales, i18n.default_locale)


class LocaleMiddleware(SimpleI18nMiddleware):
    """aiogram's SimpleI18nMiddleware, reading the language the sender picked with /language (on the
    ``user`` that :class:`UserMiddleware` registered), else their app's; an empty or unparsable
    language_code means English instead of an exception that leaves the user unanswered."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("user")
        if user is not None:
            return languages.of_user(user, self.i18n.available_locales, self.i18n.default_locale)
        sender: TgUser | None = data.get("event_from_user")
        return locale_for(self.i18n, sender.language_code if sender else None)


@dataclass(slots=True)
class _Sender:
    limiter: AsyncLimiter
    seen: float  # loop time of their last update
    warned: bool = False  # told "too fast" in the current flood episode
    dropped: float = 0.0  # loop time of their last dropped update


class FloodMiddleware(BaseMiddleware):
    """Per-user flood control, first on the update observer: past ``rate`` updates a second (after a
    ``burst``), a sender's updates are dropped before they cost a database write or a reply. They are
    told once per flood episode (an episode ends when nothing was dropped for as long as a full burst
    takes to drain); every dropped tap is still answered so that it does not spin. Payments are never
    dropped. Senders idle that long are forgotten, and at most ``max_senders`` are kept."""

    def __init__(self, rate: float, burst: int, max_senders: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.calm = burst / rate  # seconds for a full bucket to drain
        self.max_senders = max_senders
        self._senders: OrderedDict[int, _Sender] = OrderedDict()  # least recently seen first

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        key = _sender_key(data)
        if key is None or not isinstance(event, Update) or _payment(event):
            return await handler(event, data)
        now = asyncio.get_running_loop().time()
        sender = self._sender(key, now)
        if sender.limiter.has_capacity():
            await sender.limiter.acquire()  # capacity is there: returns at once
            return await handler(event, data)
        warn = not sender.warned
        sender.warned, sender.dropped = True, now
        await _turn_away(event, data, warn)
        return None

    @property
    def tracked(self) -> int:
        """Senders held in memory: those seen within the time a burst takes to drain, at most max_senders."""
        return len(self._senders)

    def _sender(self, key: int, now: float) -> _Sender:
        senders = self._senders
        while senders:  # forget the idle: their bucket has drained, a fresh one is the same
            oldest = next(iter(senders.values()))
            if now - oldest.seen < self.calm and len(senders) < self.max_senders:
                break
            senders.popitem(last=False)
        sender = senders.pop(key, None)
        if sender is None:
            sender = _Sender(AsyncLimiter(self.burst, self.calm), now)
        elif sender.warned and now - sender.dropped >= self.calm:
            sender.warned = False  # the last episode is over
        sender.seen = now
        senders[key] = sender  # now the most recently seen
        return sender


def _sender_key(data: dict[str, Any]) -> int | None:
    """Who an update counts against: the user; for a channel or an anonymous group admin (sent by a
    bot account that all groups share), the chat."""
    user: TgUser | None = data.get("event_from_user")
    chat: Chat | None = data.get("event_chat")
    if user is not None and not user.is_bot:
        return user.id
    return chat.id if chat is not None else None


async def _turn_away(event: Update, data: dict[str, Any], warn: bool) -> None:
    """A dropped update: a tap gets a short answer (the notice, if due); a private message the notice, if due."""
    query, message = event.callback_query, event.message
    if query is None and (not warn or message is None or message.chat.type != ChatType.PRIVATE):
        return
    i18n: I18n = data["i18n"]
    sender: TgUser | None = data.get("event_from_user")
    with i18n.context(), i18n.use_locale(locale_for(i18n, sender.language_code if sender else None)):
        text = refusals.too_fast()
    try:
        if query is not None:
            await query.answer(text if warn else None)
        elif message is not None:
            await message.answer(text)
    except TelegramAPIError as exc:
        logger.info("flood notice not sent: %s", exc)


class UserMiddleware(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        sender: TgUser | None = data.get("event_from_user")
        people: People = data["people"]
        if sender is not None and not sender.is_bot:
            data["user"] = await people.register(
                sender.id, sender.username, sender.first_name, sender.language_code or "en"
            )
            if data["user"].is_banned and sender.id not in data["settings"].admin_ids and not _payment(event):
                return await _refuse_banned(event, data)
        return await handler(event, data)


def _payment(event: TelegramObject) -> bool:
    """Payment updates go on to their handlers even for the banned or in a flood: money already moved,
    or is refused there."""
    if not isinstance(event, Update):
        return False
    return event.pre_checkout_query is not None or (
        event.message is not None and event.message.successful_payment is not None
    )


async def _refuse_banned(event: TelegramObject, data: dict[str, Any]) -> None:
    """One line for a banned user's message or tap, and nothing else."""
    if not isinstance(event, Update):
        return
    i18n: I18n = data["i18n"]
    with i18n.context(), i18n.use_locale(languages.of_user(data["user"], i18n.available_locales)):
        text = refusals.banned()
    if event.callback_query is not None:
        await event.callback_query.answer(text, show_alert=True)
    elif event.message is not None:
        await event.message.answer(text)
