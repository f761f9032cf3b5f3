"""The bot's profile in every shipped language, set at start: the command menu (``setMyCommands``), the
description shown in an empty chat (``setMyDescription``) and the short one on the profile page
(``setMyShortDescription``). The source language is also set without a language code: the default for
every app language not shipped."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n

from handlers.commands import bot_commands
from handlers.texts import language as texts

logger = logging.getLogger(__name__)


async def publish(bot: Bot, i18n: I18n) -> None:
    """Set the profile for each language; a refusal is logged and the rest goes on (it is a nicety:
    Telegram failing now must not stop the start)."""
    codes = [None, *sorted(i18n.available_locales)]  # None: the default, in the source language
    for code in codes:
        with i18n.context(), i18n.use_locale(code or i18n.default_locale):
            commands, description, short = bot_commands(), texts.description(), texts.short_description()
        try:
            await bot.set_my_commands(commands, language_code=code)
            await bot.set_my_description(description, language_code=code)
            await bot.set_my_short_description(short, language_code=code)
        except TelegramAPIError as exc:
            logger.warning("bot profile for language %s not set: %s", code or "default", exc)
