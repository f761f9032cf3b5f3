"""Putting a screen in front of the user: edit the tapped message, or answer a command."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

#: Telegram's answers to editing a message that is gone, no longer the bot's to edit, or has no text
#: (an invoice, a photo): the screen is sent anew instead
_GONE = (
    "message to edit not found",
    "message can't be edited",
    "message_id_invalid",
    "there is no text in the message to edit",
)


async def show(target: CallbackQuery | Message, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """A callback edits its own message in place (or, when that message is gone, sends the screen anew);
    a command gets a new message."""
    if isinstance(target, Message):
        await target.answer(text, reply_markup=markup)
        return
    message = target.message
    if isinstance(message, Message):
        try:
            await message.edit_text(text, reply_markup=markup)
            return
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return
            if not any(gone in exc.message.lower() for gone in _GONE):
                raise
    if target.from_user is not None and target.bot is not None:
        await target.bot.send_message(target.from_user.id, text, reply_markup=markup)
