"""Updates from where the bot does not serve: group and channel chats, and taps on messages it cannot see.

Included right after the error handler, before every screen:

- in a group, a supergroup or a channel, a command, a mention of the bot or a reply to it gets one line
  pointing to the private chat, and nothing else (an anonymous admin's message, sent by
  GroupAnonymousBot, included); other messages there are ignored on purpose, and a tap on a button
  there gets that line as its answer;
- a tap with no message (inline mode), on an inaccessible message, or on a message the bot did not send
  is not acted on: the main menu is sent afresh in the private chat and the tap is answered.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, InaccessibleMessage, Message

from handlers import keyboards
from handlers.callback_answers import TapAnswer
from handlers.filters import on_loop
from handlers.texts.refusals import private_chat_only
from handlers.texts.start import welcome

logger = logging.getLogger(__name__)

router = Router(name=__name__)

ELSEWHERE = (ChatType.GROUP, ChatType.SUPERGROUP, ChatType.CHANNEL)


async def _username(bot: Bot) -> str | None:
    try:
        return (await bot.me()).username  # cached after the first call
    except TelegramAPIError as exc:
        logger.info("getMe failed: %s", exc)
        return None


async def private_chat_line(bot: Bot) -> str:
    username = await _username(bot)
    return private_chat_only(f"https://t.me/{username}" if username else None)


async def _addressed(message: Message, bot: Bot) -> bool:
    """A command, a mention of the bot, or a reply to one of its messages: worth an answer in a group."""
    text = message.text or message.caption or ""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return True
    if not text.startswith("/") and "@" not in text:
        return False
    username = (await _username(bot) or "").lower()
    if text.startswith("/"):
        to = text.split(maxsplit=1)[0].partition("@")[2].lower()
        return not to or to == username  # /buy, or /buy@us: not /buy@another_bot
    return bool(username) and f"@{username}" in text.lower()  # a mention


@router.message(on_loop(F.chat.type.in_(ELSEWHERE)))
@router.channel_post(on_loop(F.chat.type.in_(ELSEWHERE)))
async def elsewhere(message: Message, bot: Bot) -> None:
    if await _addressed(message, bot):
        await message.answer(await private_chat_line(bot))


@router.callback_query(on_loop(F.message.chat.type.in_(ELSEWHERE)))
async def tap_elsewhere(query: CallbackQuery, bot: Bot, callback_answer: TapAnswer) -> None:
    callback_answer.alert(await private_chat_line(bot))


class UnseenMessage(Filter):
    """A tap whose message the bot cannot see or never sent, so its screen cannot be edited."""

    async def __call__(self, query: CallbackQuery, bot: Bot) -> bool:
        message = query.message
        if message is None or isinstance(message, InaccessibleMessage):
            return True
        return message.from_user is None or message.from_user.id != bot.id


@router.callback_query(UnseenMessage())
async def unseen_message_tap(query: CallbackQuery, bot: Bot) -> None:
    try:
        await bot.send_message(query.from_user.id, welcome(), reply_markup=keyboards.main_menu())
    except TelegramAPIError as exc:  # e.g. an inline-mode tap by someone who never opened the bot
        logger.info("menu for a tap on an unseen message not sent: %s", exc)
