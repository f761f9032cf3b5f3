"""Putting a screen in front of the user: edit the tapped message, or answer a command."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message


async def show(target: CallbackQuery | Message, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """A callback edits its own message in place; a command gets a new message."""
    if isinstance(target, Message):
        await target.answer(text, reply_markup=markup)
        return
    message = target.message
    if isinstance(message, Message):
        try:
            await message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message:
                raise
    elif target.from_user is not None and target.bot is not None:
        await target.bot.send_message(target.from_user.id, text, reply_markup=markup)
