"""/paysupport and /terms.

/paysupport explains refunds and waits (an FSM state) for the user's next message; that goes to every
admin under a header with the user's id, balance, latest orders and Stars charge ids (one message when
the words fit under it, else the header and a copy of the message). An admin's reply to one of those
messages reaches the user, and the admin is told whether it did. The router sits before the admin
router: it takes only replies to support messages (and never a command), so an admin's other messages
still reach the admin screens.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.filters import BaseFilter, Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, ReplyParameters
from aiogram.utils.i18n import I18n

from bot import languages
from bot.money.billing import Billing
from bot.operator.support import Support
from bot.people import People
from handlers import keyboards, terms
from handlers.callbacks import MenuCb
from handlers.screens import show
from handlers.texts import support as texts
from handlers.texts.limits import TEXT_LIMIT, visible_length
from storage.users import User

logger = logging.getLogger(__name__)

router = Router(name=__name__)
router.include_router(terms.router)  # /terms


class SupportForm(StatesGroup):
    message = State()


def _has_words(message: Message) -> bool:
    """Something an admin can read: text, a caption, or a photo, file, video or voice message."""
    if (message.text or message.caption or "").strip():
        return True
    return any((message.photo, message.document, message.video, message.voice, message.audio))


def _is_command(message: Message) -> bool:
    return (message.text or "").startswith("/")


@router.message(Command("paysupport"))
@router.callback_query(MenuCb.filter(F.action == "paysupport"))
async def begin(target: Message | CallbackQuery, state: FSMContext, support: Support, user: User) -> None:
    if not support.available:
        await show(target, texts.unavailable(), keyboards.back_to_menu())
        return
    if not await support.may_write(user.id):
        await state.clear()
        await show(target, texts.too_many(support.per_hour), keyboards.back_to_menu())
        return
    await state.set_state(SupportForm.message)
    await show(target, texts.intro())


@router.message(StateFilter(SupportForm.message), Command("cancel"))
async def cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(texts.cancelled(), reply_markup=keyboards.back_to_menu())


@router.message(StateFilter(SupportForm.message))
async def got_message(
    message: Message,
    state: FSMContext,
    support: Support,
    user: User,
    bot: Bot,
    i18n: I18n,
    billing: Billing,
    people: People,
) -> None:
    if _is_command(message):  # another command leaves the form and is answered as usual
        await state.clear()
        raise SkipHandler
    if not _has_words(message):
        await message.answer(texts.no_words())
        return
    async with support.lock(user.id):
        if await state.get_state() != SupportForm.message.state:
            return  # another message sent with it (an album) was taken already: one per /paysupport
        await state.clear()
        await _forward(message, support, user, bot, i18n, billing, people)


async def _forward(
    message: Message, support: Support, user: User, bot: Bot, i18n: I18n, billing: Billing, people: People
) -> None:
    """The user's message to every admin under the case header, recorded; the user told how it went."""
    if not await support.may_write(user.id):
        await message.answer(texts.too_many(support.per_hour), reply_markup=keyboards.back_to_menu())
        return
    case = await support.case(user.id)
    sent: list[tuple[int, int]] = []
    if case is not None:
        for admin_id in support.admin_ids:
            admin = await people.get(admin_id)  # their language, if they ever wrote to the bot
            with i18n.use_locale(languages.of_user(admin, i18n.available_locales, i18n.default_locale)):
                header = texts.admin_header(case, billing.fmt)
            sent += [(admin_id, message_id) for message_id in await _to_admin(bot, admin_id, header, message)]
    if await support.record(user.id, sent):
        await message.answer(texts.sent(), reply_markup=keyboards.back_to_menu())
    else:
        logger.warning("support message of user %d reached no admin", user.id)
        await message.answer(texts.not_sent(), reply_markup=keyboards.back_to_menu())


async def _to_admin(bot: Bot, admin_id: int, header: str, message: Message) -> list[int]:
    """Send the user's message to one admin; the ids of the bot messages that carry it (none on failure)."""
    ids: list[int] = []
    try:
        if message.text and visible_length(body := f"{header}\n\n{texts.quote(message.text)}") <= TEXT_LIMIT:
            ids.append((await bot.send_message(admin_id, body)).message_id)
            return ids
        ids.append((await bot.send_message(admin_id, header)).message_id)
        copied = await bot.copy_message(
            admin_id, message.chat.id, message.message_id, reply_parameters=ReplyParameters(message_id=ids[0])
        )
        ids.append(copied.message_id)
    except TelegramAPIError as exc:
        logger.warning("support message not sent to admin %d: %s", admin_id, exc)
    return ids


class RepliesToSupport(BaseFilter):
    """An admin's message (not a command) that replies to a support message: hands on ``support_user``."""

    async def __call__(self, message: Message, support: Support) -> bool | dict[str, int]:
        reply = message.reply_to_message
        if reply is None or message.chat.id not in support.admin_ids or _is_command(message):
            return False
        user_id = await support.user_for(message.chat.id, reply.message_id)
        return False if user_id is None else {"support_user": user_id}


@router.message(RepliesToSupport())
async def admin_reply(message: Message, support_user: int, bot: Bot, i18n: I18n, people: People) -> None:
    reader = await people.get(support_user)
    with i18n.use_locale(languages.of_user(reader, i18n.available_locales, i18n.default_locale)):
        header, body = texts.reply_header(), texts.reply(message.html_text) if message.text else None
    try:
        if body is not None and visible_length(body) <= TEXT_LIMIT:
            await bot.send_message(support_user, body)
        else:
            first = await bot.send_message(support_user, header)
            await bot.copy_message(
                support_user,
                message.chat.id,
                message.message_id,
                reply_parameters=ReplyParameters(message_id=first.message_id),
            )
    except TelegramForbiddenError:
        await people.mark_blocked(support_user)
        await message.reply(texts.blocked())
        return
    except TelegramAPIError as exc:
        logger.info("support answer of admin %d not delivered to user %d: %s", message.chat.id, support_user, exc)
        await message.reply(texts.failed(exc.message))
        return
    logger.info("admin %d answered user %d through support", message.chat.id, support_user)
    await message.reply(texts.delivered())
