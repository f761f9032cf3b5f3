"""Telegram Stars top-ups: /topup and its packages, the invoice, pre-checkout and the receipt.

``admin_router`` holds the admin's ``/refund_stars``; include it before ``router``, whose own
``/refund_stars`` handler then only ever answers non-admins with a refusal.
"""

from __future__ import annotations

import logging
from html import escape

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, LabeledPrice, Message, PreCheckoutQuery
from aiogram.utils.i18n import gettext as _

from bot.billing import Billing
from bot.notify import Notifier
from bot.payments import STARS, Credit, Payments, Refund, RefundResult, Refusal
from bot.settings import Settings
from handlers import keyboards
from handlers.admin import IsAdmin
from handlers.callbacks import MenuCb, TopupCb
from handlers.screens import show
from storage.users import User

logger = logging.getLogger(__name__)

router = Router(name=__name__)
admin_router = Router(name=f"{__name__}.admin")
admin_router.message.filter(IsAdmin())


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
    if result.outcome is Credit.CREDITED:
        await message.answer(
            _("✅ Topped up {amount}. Balance: <b>{balance}</b>.").format(
                amount=billing.fmt(result.amount), balance=billing.fmt(result.balance)
            )
        )
    elif result.outcome is Credit.REJECTED:
        await notifier.tell_admins(
            settings.admin_ids,
            _(
                "⚠️ Stars payment <code>{charge}</code> of user {user} was NOT credited ({reason}): "
                "payload <code>{payload}</code>, {total} {currency}. Refund it with /refund_stars."
            ).format(
                charge=escape(charge),
                user=user.id,
                reason=result.refusal,
                payload=escape(sp.invoice_payload[:64]),
                total=sp.total_amount,
                currency=escape(sp.currency),
            ),
        )
        await message.answer(_("⚠️ We could not match this payment to a package. An operator will look into it."))


@router.message(Command("refund_stars"))
async def not_for_you(message: Message) -> None:
    await message.answer(_("This command is for the bot's administrators."))


def _refund_text(result: RefundResult, charge: str, billing: Billing) -> str:
    p = result.payment
    amount = billing.fmt(p.amount) if p else ""
    values = {
        "charge": escape(charge),
        "amount": amount,
        "balance": billing.fmt(result.balance),
        "error": escape(result.error),
    }
    return {
        Refund.NOT_FOUND: _("No Stars payment with charge id <code>{charge}</code>."),
        Refund.ALREADY_REFUNDED: _("Payment <code>{charge}</code> is already refunded."),
        Refund.INSUFFICIENT: _(
            "Not refunded: the user's balance {balance} is less than the {amount} this payment credited. "
            "Nothing was changed."
        ),
        Refund.FAILED: _("Telegram refused the refund: {error}. The {amount} debit was reversed; nothing changed."),
        Refund.UNCLEAR: _(
            "No clear answer from Telegram ({error}). The {amount} debit stays and the payment is 'refunding': "
            "run /refund_stars <code>{charge}</code> again to retry."
        ),
        Refund.REFUNDED: _("Refunded <code>{charge}</code>: {amount} debited, the user's balance is {balance}."),
    }[result.outcome].format(**values)


@admin_router.message(Command("refund_stars"))
async def refund_stars(
    message: Message, command: CommandObject, payments: Payments, billing: Billing, bot: Bot
) -> None:
    charge = (command.args or "").strip()
    if not charge or " " in charge:
        await message.answer(_("Usage: <code>/refund_stars &lt;charge_id&gt;</code>"))
        return
    admin_id = message.from_user.id if message.from_user else 0
    result = await payments.refund(bot, admin_id=admin_id, charge_id=charge)
    await message.answer(_refund_text(result, charge, billing))
    if result.outcome is Refund.REFUNDED and result.payment is not None:
        try:
            await bot.send_message(
                result.payment.user_id,
                _("↩️ Your {stars} Stars were refunded; {amount} was taken from your balance.").format(
                    stars=result.payment.stars, amount=billing.fmt(result.payment.amount)
                ),
            )
        except TelegramAPIError as exc:
            logger.warning("could not tell user %d about the refund: %s", result.payment.user_id, exc)
