"""Reply by SMS from a rented number: the card's ✉️ button asks for the text, the next message is shown
as a preview with its price, and only the preview's Send charges and sends (once). /cancel leaves.

The preview step keeps a message typed for something else (a search after /buy, say) from being sent
and charged by accident while the prompt is still open.
"""

from __future__ import annotations

import secrets

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.money.billing import Billing
from bot.orders.outbound import Reply, SmsReplies, text_refusal
from handlers.callback_answers import TapAnswer
from handlers.callbacks import SmsReplyCb, SmsSendCb
from handlers.filters import on_loop
from handlers.screens import show
from handlers.texts import sms_reply as texts
from storage.users import User

router = Router(name=__name__)


class SmsReplyForm(StatesGroup):
    text = State()  # data: order_id; once previewed, also text and nonce


def preview_keyboard(order_id: int, nonce: str, price: str) -> InlineKeyboardMarkup:
    send = SmsSendCb(order_id=order_id, nonce=nonce, send=True).pack()
    drop = SmsSendCb(order_id=order_id, nonce=nonce, send=False).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=texts.send_button(price), callback_data=send)],
            [InlineKeyboardButton(text=texts.drop_button(), callback_data=drop)],
        ]
    )


@router.callback_query(SmsReplyCb.filter())
async def ask_for_text(
    query: CallbackQuery,
    callback_data: SmsReplyCb,
    sms_replies: SmsReplies,
    billing: Billing,
    user: User,
    state: FSMContext,
    callback_answer: TapAnswer,
) -> None:
    ready = await sms_replies.prepare(callback_data.order_id, user.id)
    if ready.outcome is not Reply.READY:
        callback_answer.alert(texts.outcome(ready, billing.fmt))
        return
    await state.set_state(SmsReplyForm.text)
    await state.set_data({"order_id": callback_data.order_id})
    if isinstance(query.message, Message):
        await query.message.answer(texts.ask(ready, billing.fmt))


@router.message(StateFilter(SmsReplyForm.text), Command("cancel"))
async def leave(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(texts.dropped())


@router.message(StateFilter(SmsReplyForm.text), on_loop(F.text & ~F.text.startswith("/")))  # a command is not a text
async def take_text(message: Message, sms_replies: SmsReplies, billing: Billing, user: User, state: FSMContext) -> None:
    text = message.text or ""
    order_id = int((await state.get_data()).get("order_id", 0))
    ready = await sms_replies.prepare(order_id, user.id)
    if ready.outcome is not Reply.READY:
        await state.clear()
        await message.answer(texts.outcome(ready, billing.fmt))
        return
    refusal = text_refusal(text)
    if refusal is not None:  # the prompt stays open for a better text
        await message.answer(texts.outcome(refusal, billing.fmt))
        return
    nonce = secrets.token_urlsafe(9)
    await state.update_data(text=text, nonce=nonce)
    price = billing.fmt(ready.price or 0)
    await message.answer(texts.preview(text, ready, billing.fmt), reply_markup=preview_keyboard(order_id, nonce, price))


@router.message(StateFilter(SmsReplyForm.text))
async def not_text(message: Message) -> None:
    await message.answer(texts.text_only())


@router.callback_query(SmsSendCb.filter())
async def send(
    query: CallbackQuery,
    callback_data: SmsSendCb,
    sms_replies: SmsReplies,
    billing: Billing,
    user: User,
    state: FSMContext,
    callback_answer: TapAnswer,
) -> None:
    data = await state.get_data()
    current = data.get("nonce") == callback_data.nonce and data.get("order_id") == callback_data.order_id
    if not current:
        callback_answer.alert(texts.outdated())
        return
    await state.clear()
    if not callback_data.send:
        await show(query, texts.dropped())
        return
    await callback_answer.now()
    result = await sms_replies.send(callback_data.order_id, user.id, str(data.get("text", "")), callback_data.nonce)
    await show(query, texts.outcome(result, billing.fmt))
