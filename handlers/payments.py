"""Telegram Stars top-ups: /topup and its packages, the invoice, pre-checkout and the receipt.

The admin's ``/refund_stars`` lives in :mod:`handlers.admin.stars_refunds`; a payment whose update fails
before it is stored is caught by :mod:`handlers.payment_guard`; the texts are in :mod:`handlers.texts.payments`.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, LabeledPrice, Message, PreCheckoutQuery

from bot.money.billing import Billing
from bot.money.stars import STARS, Credit, Payments
from bot.settings import Settings
from handlers import keyboards
from handlers.callback_answers import TapAnswer
from handlers.callbacks import MenuCb, TopupCb
from handlers.filters import on_loop
from handlers.notifier import Notifier
from handlers.screens import show
from handlers.texts import payments as texts
from handlers.texts.alerts import receipt
from storage.users import User

logger = logging.getLogger(__name__)

router = Router(name=__name__)


@router.message(Command("topup"))
@router.callback_query(MenuCb.filter(F.action == "topup"))
async def packages(target: Message | CallbackQuery, payments: Payments, billing: Billing) -> None:
    offers = [(p.stars, billing.fmt(p.amount)) for p in payments.packages]
    await show(target, texts.packages(), keyboards.topup(offers))


@router.callback_query(TopupCb.filter())
async def invoice(
    query: CallbackQuery,
    callback_data: TopupCb,
    payments: Payments,
    billing: Billing,
    bot: Bot,
    callback_answer: TapAnswer,
) -> None:
    package = payments.offer(callback_data.stars)
    if package is None:
        callback_answer.alert(texts.package_gone())
        return
    amount = billing.fmt(package.amount)
    await bot.send_invoice(
        chat_id=query.from_user.id,
        title=texts.invoice_title(package.stars),
        description=texts.invoice_description(amount),
        payload=package.payload,
        currency=STARS,
        prices=[LabeledPrice(label=texts.invoice_label(amount), amount=package.stars)],
        provider_token="",
    )


@router.pre_checkout_query()
async def pre_checkout(query: PreCheckoutQuery, payments: Payments, user: User) -> None:
    """Answered at once: Telegram gives the bot 10 seconds."""
    refusal = payments.check(
        payload=query.invoice_payload, currency=query.currency, total_amount=query.total_amount, banned=user.is_banned
    )
    if refusal is None:
        await query.answer(ok=True)
        return
    logger.info("pre-checkout of user %d refused: %s", user.id, refusal)
    await query.answer(ok=False, error_message=texts.refusal(refusal))


@router.message(on_loop(F.successful_payment))
async def paid(
    message: Message, payments: Payments, billing: Billing, notifier: Notifier, settings: Settings, user: User
) -> None:
    """Telegram has taken the Stars and sends this once: store it, credit it, and tell whoever must know."""
    sp = message.successful_payment
    assert sp is not None
    charge = sp.telegram_payment_charge_id
    result = await payments.credit(
        user_id=user.id,
        charge_id=charge,
        payload=sp.invoice_payload,
        currency=sp.currency,
        total_amount=sp.total_amount,
    )
    if result.outcome is Credit.DUPLICATE:
        return
    if result.outcome is Credit.CREDITED:
        await _answer(message, receipt(billing.fmt(result.amount), billing.fmt(result.balance)))
        return

    def facts() -> dict[str, object]:  # in the language of the text: the amount is written in it
        return texts.facts(sp, user.id, result.error, billing.fmt(result.amount))

    await notifier.tell_admins(lambda: texts.failure_for_admins(result, facts()))
    await _answer(message, texts.failure_for_user(result, facts()))


async def _answer(message: Message, text: str) -> None:
    """A reply the user may never see (blocked bot, Telegram down) must not undo what was stored."""
    try:
        await message.answer(text)
    except TelegramAPIError as exc:
        logger.warning("could not answer user %s about a payment: %s", message.chat.id, exc)
