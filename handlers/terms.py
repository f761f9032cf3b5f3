"""/terms: the operator's terms (``TERMS_TEXT``, else ``TERMS_FILE``), else the built-in ones with the refund
rules; a long text comes as several messages, each within Telegram's limit. Included by
:mod:`handlers.support`.

Terms that are not Telegram HTML (an unknown tag, a bare ``<``), or that Telegram refuses to parse, are
logged and shown as plain text rather than not at all.
"""

from __future__ import annotations

import logging
from html import escape

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.operator.terms import Terms
from bot.settings import Settings
from handlers import keyboards
from handlers.callbacks import MenuCb
from handlers.html_chunks import split_html
from handlers.screens import show
from handlers.texts import support as texts

logger = logging.getLogger(__name__)

router = Router(name=__name__)


def terms_keyboard() -> InlineKeyboardMarkup:
    """Under the terms: payment support, and back to the menu."""
    support = InlineKeyboardButton(text=texts.support_button(), callback_data=MenuCb(action="paysupport").pack())
    return InlineKeyboardMarkup(inline_keyboard=[[support], [keyboards.menu_button()]])


def _chunks(custom: str | None, settings: Settings) -> list[str]:
    built_in = texts.default_terms(settings.write_off_limit_per_day, settings.order_timeout_minutes)
    if custom is None:
        return split_html(built_in)
    try:
        return split_html(custom) or split_html(built_in)  # nothing visible: the built-in terms
    except ValueError as exc:
        logger.warning("the operator's terms are not Telegram HTML (%s): shown as plain text", exc)
        return split_html(escape(custom, quote=False))


@router.message(Command("terms"))
@router.callback_query(MenuCb.filter(F.action == "terms"))
async def terms(target: Message | CallbackQuery, terms: Terms, settings: Settings, bot: Bot) -> None:
    custom = await terms.custom()
    chunks = _chunks(custom, settings)
    try:
        await _send(target, bot, chunks)
    except TelegramBadRequest as exc:
        if custom is None or "can't parse entities" not in exc.message:
            raise
        logger.warning("Telegram refused the operator's terms (%s): shown as plain text", exc.message)
        await _send(target, bot, split_html(escape(custom, quote=False)))


async def _send(target: Message | CallbackQuery, bot: Bot, chunks: list[str]) -> None:
    """The first chunk on the screen (a tap edits its message), the rest after it; the menu button last."""
    markup = terms_keyboard()
    await show(target, chunks[0], markup if len(chunks) == 1 else None)
    chat_id = target.chat.id if isinstance(target, Message) else target.from_user.id
    for number, chunk in enumerate(chunks[1:], start=2):
        await bot.send_message(chat_id, chunk, reply_markup=markup if number == len(chunks) else None)
