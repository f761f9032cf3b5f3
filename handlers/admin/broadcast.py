"""/broadcast: the message, an optional URL button, the audience, a preview, then Confirm or Cancel.

The steps are FSM states; sending is the :class:`bot.operator.broadcasts.Broadcasts` service's background job.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.operator.broadcasts import Broadcasts
from handlers.admin import broadcast_keyboards as kb
from handlers.admin.texts import broadcast as texts
from handlers.callback_answers import TapAnswer
from handlers.callbacks import BcAudienceCb, BcCancelCb, BcConfirmCb
from handlers.screens import show

logger = logging.getLogger(__name__)

router = Router(name=__name__)


class BroadcastForm(StatesGroup):
    message = State()
    button = State()
    audience = State()
    confirm = State()


def parse_button(text: str) -> tuple[str, str] | None:
    """``"Text | https://…"`` → ``(text, url)``, or None when it does not look like that."""
    label, sep, url = text.rpartition("|")
    label, url = label.strip(), url.strip()
    if not sep or not label or len(label) > 64 or not url.startswith(("https://", "http://")) or " " in url:
        return None
    return label, url


@router.message(Command("broadcast"))
async def begin(message: Message, state: FSMContext) -> None:
    await state.clear()
    await state.set_state(BroadcastForm.message)
    await message.answer(texts.ask_message())


@router.message(StateFilter(BroadcastForm), Command("cancel"))
async def abort(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(texts.cancelled())


@router.message(StateFilter(BroadcastForm.message))
async def got_message(message: Message, state: FSMContext) -> None:
    await state.update_data(from_chat_id=message.chat.id, message_id=message.message_id)
    await state.set_state(BroadcastForm.button)
    await message.answer(texts.ask_button())


@router.message(StateFilter(BroadcastForm.button), Command("skip"))
async def skip_button(message: Message, state: FSMContext) -> None:
    await state.update_data(button=None)
    await _ask_audience(message, state)


@router.message(StateFilter(BroadcastForm.button))
async def got_button(message: Message, state: FSMContext) -> None:
    button = parse_button(message.text or "")
    if button is None:
        await message.answer(texts.bad_button())
        return
    await state.update_data(button=list(button))
    await _ask_audience(message, state)


async def _ask_audience(message: Message, state: FSMContext) -> None:
    await state.set_state(BroadcastForm.audience)
    await message.answer(texts.ask_audience(), reply_markup=kb.audiences())


@router.callback_query(BcAudienceCb.filter())
async def got_audience(
    query: CallbackQuery,
    callback_data: BcAudienceCb,
    state: FSMContext,
    broadcasts: Broadcasts,
    bot: Bot,
    callback_answer: TapAnswer,
) -> None:
    offered = (callback_data.kind, callback_data.days) in kb.AUDIENCE_CHOICES
    if await state.get_state() != BroadcastForm.audience or not offered:  # old screen, or data never sent
        callback_answer.alert(texts.stale_screen())
        return
    audience = kb.audience_key(callback_data.kind, callback_data.days)
    data = await state.get_data()
    button = data.get("button")
    await callback_answer.now()  # the preview and the audience count take a moment
    try:
        await bot.copy_message(
            chat_id=query.from_user.id,
            from_chat_id=data["from_chat_id"],
            message_id=data["message_id"],
            reply_markup=kb.url_button(*button) if button else None,
        )
    except TelegramBadRequest as exc:
        await state.clear()
        await show(query, texts.refused(exc.message))
        return
    size = await broadcasts.audience_size(audience)
    if size == 0:
        await state.clear()
        await bot.send_message(query.from_user.id, texts.preview(audience, size))
        return
    await state.update_data(audience=audience)
    await state.set_state(BroadcastForm.confirm)
    await bot.send_message(query.from_user.id, texts.preview(audience, size), reply_markup=kb.confirm())


@router.callback_query(BcConfirmCb.filter(F.action == "go"))
async def confirm(query: CallbackQuery, state: FSMContext, broadcasts: Broadcasts, callback_answer: TapAnswer) -> None:
    data = await state.get_data()
    message = query.message
    if await state.get_state() != BroadcastForm.confirm or message is None or "audience" not in data:
        callback_answer.alert(texts.stale_preview())
        return
    await state.clear()
    button = data.get("button")
    broadcast_id, recipients, created = await broadcasts.start(
        admin_id=query.from_user.id,
        from_chat_id=data["from_chat_id"],
        message_id=data["message_id"],
        button=(button[0], button[1]) if button else None,
        audience=data["audience"],
        progress=(message.chat.id, message.message_id),
    )
    callback_answer.text = texts.started(broadcast_id, recipients, created)


@router.callback_query(BcConfirmCb.filter(F.action == "no"))
async def drop(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await show(query, texts.cancelled())


@router.callback_query(BcCancelCb.filter())
async def cancel_running(
    query: CallbackQuery, callback_data: BcCancelCb, broadcasts: Broadcasts, callback_answer: TapAnswer
) -> None:
    cancelled = await broadcasts.cancel(callback_data.broadcast_id, query.from_user.id)
    if cancelled:
        logger.info("admin %d cancelled broadcast %d", query.from_user.id, callback_data.broadcast_id)
    callback_answer.text = texts.stopped(cancelled)
    callback_answer.show_alert = not cancelled
