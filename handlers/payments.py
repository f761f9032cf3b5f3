"""Telegram Stars top-ups: /topup and its packages, the invoice, pre-checkout and the receipt.

The admin's ``/refund_stars`` lives in :mod:`handlers.admin.stars_refunds`.

:class:`PaymentGuard` goes on the dispatcher's update observer before the user middleware: when a
``successful_payment`` update fails before (or outside) :func:`paid` — the user's record cannot be
written because the database is down — it is the one that logs the charge id and tells the admins.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from aiogram import BaseMiddleware, Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import (
    CallbackQuery,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
    SuccessfulPayment,
    TelegramObject,
    Update,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.money.billing import Billing
from bot.money.stars import STARS, Credit, CreditResult, Payments, Refusal
from bot.settings import Settings
from handlers import keyboards
from handlers.callbacks import MenuCb, TopupCb
from handlers.notifier import Notifier
from handlers.screens import show
from handlers.texts.alerts import receipt
from storage import payments as payments_q
from storage.users import User

logger = logging.getLogger(__name__)

router = Router(name=__name__)


async def _packages(target: CallbackQuery | Message, payments: Payments, billing: Billing) -> None:
    offers = [(p.stars, billing.fmt(p.amount)) for p in payments.packages]
    text = _("⭐ <b>Top up with Telegram Stars</b>\nPick a package; the amount is added to your balance at once.")
    await show(target, text, keyboards.topup(offers))


@router.message(Command("topup"))
async def topup_command(message: Message, payments: Payments, billing: Billing) -> None:
    await _packages(message, payments, billing)


@router.callback_query(MenuCb.filter(F.action == "topup"))
async def topup_button(query: CallbackQuery, payments: Payments, billing: Billing) -> None:
    await _packages(query, payments, billing)
    await query.answer()


@router.callback_query(TopupCb.filter())
async def invoice(query: CallbackQuery, callback_data: TopupCb, payments: Payments, billing: Billing, bot: Bot) -> None:
    package = payments.offer(callback_data.stars)
    if package is None:
        await query.answer(_("This package is no longer offered."), show_alert=True)
        return
    amount = billing.fmt(package.amount)
    await bot.send_invoice(
        chat_id=query.from_user.id,
        title=_("{stars} Stars top-up").format(stars=package.stars),
        description=_("Adds {amount} to your balance.").format(amount=amount),
        payload=package.payload,
        currency=STARS,
        prices=[LabeledPrice(label=_("Top-up {amount}").format(amount=amount), amount=package.stars)],
        provider_token="",
    )
    await query.answer()


def _refusal_text(refusal: Refusal) -> str:
    return {
        Refusal.BANNED: _("Payments are not available for this account."),
        Refusal.UNKNOWN_PACKAGE: _("This package is no longer offered. Please open /topup again."),
        Refusal.CURRENCY: _("Only Telegram Stars are accepted."),
        Refusal.AMOUNT: _("The amount does not match the package. Please open /topup again."),
    }[refusal]


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
    await query.answer(ok=False, error_message=_refusal_text(refusal))


@router.message(F.successful_payment)
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
    values = {
        "charge": escape(charge),
        "user": user.id,
        "payload": escape(sp.invoice_payload[:64]),
        "total": sp.total_amount,
        "currency": escape(sp.currency),
        "amount": billing.fmt(result.amount),
        "error": escape(result.error),
    }
    await notifier.tell_admins(_admin_text(result).format(reason=result.refusal, **values))
    await _answer(message, _user_text(result).format(**values))


def _admin_text(result: CreditResult) -> str:
    return {
        Credit.REJECTED: _(
            "⚠️ Stars payment <code>{charge}</code> of user {user} was NOT credited ({reason}): "
            "payload <code>{payload}</code>, {total} {currency}. Refund it with /refund_stars."
        ),
        Credit.DELAYED: _(
            "⚠️ Stars payment <code>{charge}</code> of user {user} ({total} {currency}, {amount}) is stored but "
            "its credit failed: {error}. The bot retries it every minute; check the database if it stays "
            "'received'."
        ),
        Credit.UNSTORED: _(
            "🚨 Stars payment <code>{charge}</code> of user {user} ({total} {currency}, "
            "payload <code>{payload}</code>) could NOT be stored and was not credited: {error}. Telegram will not "
            "send it again; this message and the log are its only record. Credit the user by hand or refund the "
            "Stars."
        ),
    }[result.outcome]


def _user_text(result: CreditResult) -> str:
    return {
        Credit.REJECTED: _(
            "⚠️ This payment does not match any of our packages, so it was not added to your balance. "
            "The operator has its id and will refund your Stars."
        ),
        Credit.DELAYED: _(
            "⏳ Your payment is received and saved, but adding {amount} to your balance is delayed by a "
            "technical problem. The bot keeps retrying and sends your receipt when it is added."
        ),
        Credit.UNSTORED: _(
            "⚠️ Your payment reached us, but a technical problem stopped us from recording it, so it is not on "
            "your balance. It was logged for the operator with your payment id <code>{charge}</code>; please keep "
            "this message."
        ),
    }[result.outcome]


async def _answer(message: Message, text: str) -> None:
    """A reply the user may never see (blocked bot, Telegram down) must not undo what was stored."""
    try:
        await message.answer(text)
    except TelegramAPIError as exc:
        logger.warning("could not answer user %s about a payment: %s", message.chat.id, exc)


class PaymentGuard(BaseMiddleware):
    """The last trace of a ``successful_payment`` whose processing failed before it was stored.

    Telegram never sends that update again. When its processing raises (typically the user's record
    cannot be written because the database is down, before :func:`paid` even runs) and the payment
    is not in the database, the charge id and user id go to the log at ERROR and to the admins, and
    the user is told the truth instead of "try again".
    """

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        message = event.message if isinstance(event, Update) else None
        sp = message.successful_payment if message is not None else None
        if message is None or sp is None:
            return await handler(event, data)
        try:
            return await handler(event, data)
        except Exception as exc:
            user_id = message.from_user.id if message.from_user else message.chat.id
            charge = sp.telegram_payment_charge_id
            error = f"{type(exc).__name__}: {exc}"[:200]
            if await _stored(data, charge):
                logger.error("stars payment %s of user %d is stored, but its update failed: %s", charge, user_id, error)
                raise
            logger.error(
                "stars payment %s of user %d (%d %s, payload %r) NOT STORED and not credited: %s",
                charge,
                user_id,
                sp.total_amount,
                sp.currency,
                sp.invoice_payload[:64],
                error,
            )
            await _alert(message, sp, data, user_id, error)
            return None


async def _stored(data: dict[str, Any], charge: str) -> bool:
    try:
        async with data["db"].read() as conn:
            return await payments_q.get(conn, charge) is not None
    except Exception:  # the database cannot even answer: take it as not stored
        return False


async def _alert(message: Message, sp: SuccessfulPayment, data: dict[str, Any], user_id: int, error: str) -> None:
    """Best effort: nothing here may raise, the log line is already written."""
    try:
        i18n: I18n = data["i18n"]
        notifier: Notifier = data["notifier"]
        bot: Bot = data["bot"]
        result = CreditResult(Credit.UNSTORED, error=error)
        values = {
            "charge": escape(sp.telegram_payment_charge_id),
            "user": user_id,
            "payload": escape(sp.invoice_payload[:64]),
            "total": sp.total_amount,
            "currency": escape(sp.currency),
            "error": escape(error),
        }
        with i18n.context(), i18n.use_locale(i18n.default_locale):
            admin_text = _admin_text(result).format(**values)
        await notifier.tell_admins(admin_text)
        language = message.from_user.language_code if message.from_user else None
        with i18n.context(), i18n.use_locale(language or i18n.default_locale):
            user_text = _user_text(result).format(**values)
        await bot.send_message(message.chat.id, user_text)
    except Exception:
        logger.warning("stars payment %s: could not alert the admins or the user", sp.telegram_payment_charge_id)
