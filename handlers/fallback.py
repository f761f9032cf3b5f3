"""Last resort for what no other router took in the private chat: old buttons after an update, data
that makes no sense, and messages that are no command (text, stickers, photos...). Service messages
(a pin, a payment refund...) are ignored on purpose."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ContentType
from aiogram.types import CallbackQuery, Message

from handlers import keyboards
from handlers.callback_answers import TapAnswer
from handlers.filters import on_loop
from handlers.texts import refusals

router = Router(name=__name__)

#: what a user writes or sends, as opposed to service messages
USER_CONTENT = (
    ContentType.TEXT,
    ContentType.ANIMATION,
    ContentType.AUDIO,
    ContentType.DOCUMENT,
    ContentType.LIVE_PHOTO,
    ContentType.PAID_MEDIA,
    ContentType.PHOTO,
    ContentType.STICKER,
    ContentType.STORY,
    ContentType.VIDEO,
    ContentType.VIDEO_NOTE,
    ContentType.VOICE,
    ContentType.CHECKLIST,
    ContentType.CONTACT,
    ContentType.DICE,
    ContentType.GAME,
    ContentType.POLL,
    ContentType.VENUE,
    ContentType.LOCATION,
)


@router.callback_query()
async def outdated_button(query: CallbackQuery, callback_answer: TapAnswer) -> None:
    callback_answer.alert(refusals.outdated_button())


@router.message(on_loop(F.content_type.in_(USER_CONTENT)))
async def menu_hint(message: Message) -> None:
    await message.answer(refusals.unknown_input(), reply_markup=keyboards.back_to_menu())
