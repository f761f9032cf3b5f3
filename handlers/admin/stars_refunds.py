"""/refund_stars: the admin gives a Telegram Stars payment back, and the user is told."""

from __future__ import annotations

import logging
from html import escape

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.money.billing import Billing
from bot.money.stars import Payments, Refund, RefundResult
from handlers.admin.commands import IsAdmin

logger = logging.getLogger(__name__)

router = Router(name=__name__)
router.message.filter(IsAdmin())


def _refund_text(result: RefundResult, charge: str, billing: Billing) -> str:
    p = result.payment
    amount = billing.fmt(p.amount) if p else ""
    values = {
        "charge": escape(charge),
        "amount": amount,
        "balance": billing.fmt(result.balance),
        "error": escape(result.error),
    }
    if not result.debited:  # a rejected payment: never credited, so nothing is debited or reversed
        texts = {
            Refund.FAILED: _(
                "Telegram refused the refund: {error}. Nothing was debited; the payment is 'rejected' again."
            ),
            Refund.UNCLEAR: _(
                "No clear answer from Telegram ({error}). Nothing was debited and the payment is 'refunding': "
                "run /refund_stars <code>{charge}</code> again to retry."
            ),
            Refund.REFUNDED: _("Refunded <code>{charge}</code>: it was never credited, so nothing was debited."),
        }
        if result.outcome in texts:
            return texts[result.outcome].format(**values)
    return {
        Refund.NOT_FOUND: _("No Stars payment with charge id <code>{charge}</code>."),
        Refund.ALREADY_REFUNDED: _("Payment <code>{charge}</code> is already refunded."),
        Refund.PENDING: _(
            "Payment <code>{charge}</code> is received but not credited yet; the bot retries the credit every "
            "minute. Nothing was changed: run /refund_stars again once it is credited."
        ),
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


@router.message(Command("refund_stars"))
async def refund_stars(
    message: Message, command: CommandObject, payments: Payments, billing: Billing, bot: Bot
) -> None:
    charge = (command.args or "").strip()
    if not charge or " " in charge or len(charge) > 256:  # Telegram's charge ids are short; a long one is garbage
        await message.answer(_("Usage: <code>/refund_stars &lt;charge_id&gt;</code>"))
        return
    admin_id = message.from_user.id if message.from_user else 0
    result = await payments.refund(bot, admin_id=admin_id, charge_id=charge)
    await message.answer(_refund_text(result, charge, billing))
    if result.outcome is Refund.REFUNDED and result.payment is not None:
        p = result.payment
        if result.debited:
            text = _("↩️ Your {stars} Stars were refunded; {amount} was taken from your balance.")
        else:
            text = _("↩️ Your {stars} Stars were refunded. That payment was never added to your balance.")
        try:
            await bot.send_message(p.user_id, text.format(stars=p.stars, amount=billing.fmt(p.amount)))
        except TelegramAPIError as exc:
            logger.warning("could not tell user %d about the refund: %s", p.user_id, exc)
