"""/language: the user picks the language the bot speaks to them; the pick is stored and wins over their
Telegram app's language from then on."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import BotCommandScopeChat, CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot import languages
from bot.people import People
from handlers import keyboards
from handlers.callback_answers import TapAnswer
from handlers.callbacks import LanguageCb, MenuCb
from handlers.commands import bot_commands
from handlers.screens import show
from handlers.texts import language as texts
from handlers.texts.start import welcome
from storage.users import User

logger = logging.getLogger(__name__)

router = Router(name=__name__)


@router.message(Command("language"))
@router.callback_query(MenuCb.filter(F.action == "language"))
async def picker(target: Message | CallbackQuery, i18n: I18n) -> None:
    await show(target, texts.choose(), keyboards.languages(i18n.current_locale))


@router.callback_query(LanguageCb.filter(F.language.in_(languages.LANGUAGES)))
async def pick(
    query: CallbackQuery,
    callback_data: LanguageCb,
    user: User,
    people: People,
    i18n: I18n,
    bot: Bot,
    callback_answer: TapAnswer,
) -> None:
    """Store the pick and answer in it at once: the menu, then this chat's command menu, in that language.
    A second tap on the same language shows the same screen (Telegram's "not modified" is no error)."""
    language = callback_data.language
    await people.choose_language(user.id, language)
    with i18n.use_locale(language):
        await show(query, f"{texts.chosen(language)}\n\n{welcome()}", keyboards.main_menu())
        commands = bot_commands()
    await callback_answer.now()  # the screen is there; the command menu below is one more call
    scope = BotCommandScopeChat(chat_id=user.id)
    try:  # Telegram shows each chat the menu of its app's language; a chat's own list overrides it
        if language == languages.match(user.language, i18n.available_locales, i18n.default_locale):
            await bot.delete_my_commands(scope=scope)  # the app's own menu is that language's, kept fresh
        else:
            await bot.set_my_commands(commands, scope=scope)
    except TelegramAPIError as exc:  # the menu is a nicety: the pick is stored and shown already
        logger.info("command menu of chat %d not set: %s", user.id, exc)
