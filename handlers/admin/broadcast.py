"""/broadcast: the message, an optional URL button, the audience, a preview, then Confirm or Cancel.

The steps are FSM states; sending is the :class:`bot.broadcast.Broadcasts` service's background job.
"""

from __future__ import annotations

import html
import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.operator.broadcasts import Broadcasts
from handlers.admin import broadcast_keyboards as kb
from handlers.admin.commands import IsAdmin
from handlers.callbacks import BcAudienceCb, BcCancelCb, BcConfirmCb
from handlers.screens import show

logger = logging.getLogger(__name__)

router = Router(name=__name__)
router.message.filter(IsAdmin())
router.callback_query.filter(IsAdmin())


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
    await message.answer(
        _(
            "📣 Send me the message to broadcast: text with formatting, a photo with a caption, anything. "
            "It is copied to every recipient as it is.\n/cancel to stop."
        )
    )


@router.message(StateFilter(BroadcastForm), Command("cancel"))
async def abort(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Broadcast cancelled."))


@router.message(BroadcastForm.message)
async def got_message(message: Message, state: FSMContext) -> None:
    await state.update_data(from_chat_id=message.chat.id, message_id=message.message_id)
    await state.set_state(BroadcastForm.button)
    await message.answer(_("Add a link button under it? Send <code>Text | https://…</code>, or /skip for none."))


@router.message(BroadcastForm.button, Command("skip"))
async def skip_button(message: Message, state: FSMContext) -> None:
    await state.update_data(button=None)
    await _ask_audience(message, state)


@router.message(BroadcastForm.button)
async def got_button(message: Message, state: FSMContext) -> None:
    button = parse_button(message.text or "")
    if button is None:
        await message.answer(_("That is not <code>Text | https://…</code>. Send it again, or /skip."))
        return
    await state.update_data(button=list(button))
    await _ask_audience(message, state)


async def _ask_audience(message: Message, state: FSMContext) -> None:
    await state.set_state(BroadcastForm.audience)
    await message.answer(_("Who receives it?"), reply_markup=kb.audiences())


@router.callback_query(BcAudienceCb.filter())
async def got_audience(
    query: CallbackQuery, callback_data: BcAudienceCb, state: FSMContext, broadcasts: Broadcasts, bot: Bot
) -> None:
    if await state.get_state() != BroadcastForm.audience:
        await query.answer(_("This screen is no longer current. Start again with /broadcast."), show_alert=True)
        return
    audience = kb.audience_key(callback_data.kind, callback_data.days)
    data = await state.get_data()
    button = data.get("button")
    await query.answer()
    try:
        await bot.copy_message(
            chat_id=query.from_user.id,
            from_chat_id=data["from_chat_id"],
            message_id=data["message_id"],
            reply_markup=kb.url_button(*button) if button else None,
        )
    except TelegramBadRequest as exc:
        await state.clear()
        await show(
            query,
            _("Telegram refused this message: {error}\nStart again with /broadcast.").format(
                error=html.escape(exc.message)
            ),
        )
        return
    size = await broadcasts.audience_size(audience)
    text = _("⬆️ Preview. Audience: {name} · <b>{n}</b> recipients.").format(name=kb.audience_name(audience), n=size)
    if size == 0:
        await state.clear()
        await bot.send_message(query.from_user.id, text + "\n" + _("Nobody to send to."))
        return
    await state.update_data(audience=audience)
    await state.set_state(BroadcastForm.confirm)
    await bot.send_message(query.from_user.id, text + "\n" + _("Send it?"), reply_markup=kb.confirm())


@router.callback_query(BcConfirmCb.filter(F.action == "go"))
async def confirm(query: CallbackQuery, state: FSMContext, broadcasts: Broadcasts) -> None:
    data = await state.get_data()
    message = query.message
    if await state.get_state() != BroadcastForm.confirm or message is None or "audience" not in data:
        await query.answer(_("This preview is no longer current."), show_alert=True)
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
    if created:
        await query.answer(_("Broadcast #{id} started: {n} recipients.").format(id=broadcast_id, n=recipients))
    else:
        await query.answer(_("Broadcast #{id} is already running.").format(id=broadcast_id))


@router.callback_query(BcConfirmCb.filter(F.action == "no"))
async def drop(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await show(query, _("Broadcast cancelled."))
    await query.answer()


@router.callback_query(BcCancelCb.filter())
async def cancel_running(query: CallbackQuery, callback_data: BcCancelCb, broadcasts: Broadcasts) -> None:
    if await broadcasts.cancel(callback_data.broadcast_id, query.from_user.id):
        logger.info("admin %d cancelled broadcast %d", query.from_user.id, callback_data.broadcast_id)
        await query.answer(_("Cancelled. The remaining recipients will not get it."))
    else:
        await query.answer(_("This broadcast is no longer running."), show_alert=True)
