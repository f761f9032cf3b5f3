"""The bot's profile in every shipped language: the command menu (``setMyCommands``), the description
shown in an empty chat (``setMyDescription``) and the short one on the profile page
(``setMyShortDescription``). The default (no language code, for every app language not shipped) is set
before polling starts; the shipped languages follow in the background, so a slow Telegram never delays
the start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.utils.i18n import I18n

from handlers.commands import bot_commands
from handlers.texts import language as texts

logger = logging.getLogger(__name__)

#: the longest Telegram may ask us to wait before setting one more profile text; longer, it is skipped
MAX_RETRY_AFTER = 60


async def publish_default(bot: Bot, i18n: I18n) -> None:
    """The profile every app language without a translation sees: the source language's."""
    await _publish(bot, i18n, None)


async def publish_languages(bot: Bot, i18n: I18n) -> None:
    """The profile of each shipped language, one after another (run it as a task)."""
    for code in sorted(i18n.available_locales):
        await _publish(bot, i18n, code)


async def _publish(bot: Bot, i18n: I18n, code: str | None) -> None:
    with i18n.context(), i18n.use_locale(code or i18n.default_locale):
        commands, description, short = bot_commands(), texts.description(), texts.short_description()
    calls: list[tuple[str, Callable[[], Awaitable[bool]]]] = [
        ("setMyCommands", lambda: bot.set_my_commands(commands, language_code=code)),
        ("setMyDescription", lambda: bot.set_my_description(description, language_code=code)),
        ("setMyShortDescription", lambda: bot.set_my_short_description(short, language_code=code)),
    ]
    for method, call in calls:  # each on its own: one refused leaves the others to be set
        await _set(method, code, call)


async def _set(method: str, code: str | None, call: Callable[[], Awaitable[bool]]) -> None:
    """One profile call; after a 429 it waits as asked (these calls change nothing twice) and tries once
    more. A refusal is logged: the profile is a nicety, never a reason to stop."""
    for attempt in range(2):
        try:
            await call()
            return
        except TelegramRetryAfter as exc:
            if attempt or exc.retry_after > MAX_RETRY_AFTER:
                logger.warning("bot profile: %s for %s not set: %s", method, code or "default", exc)
                return
            await asyncio.sleep(exc.retry_after)
        except TelegramAPIError as exc:
            logger.warning("bot profile: %s for %s not set: %s", method, code or "default", exc)
            return
