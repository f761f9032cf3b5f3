"""Texts of /refund_stars: the admin's outcome of a Stars refund, and the user's notice."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.money.stars import Refund, RefundResult
from handlers.admin.texts.panel import Fmt


def usage() -> str:
    return _("Usage: <code>/refund_stars &lt;charge_id&gt;</code>")


def _never_credited() -> dict[Refund, str]:
    """A rejected payment was never credited: nothing is debited, so nothing is reversed either."""
    return {
        Refund.FAILED: _("Telegram refused the refund: {error}. Nothing was debited; the payment is 'rejected' again."),
        Refund.UNCLEAR: _(
            "No clear answer from Telegram ({error}). Nothing was debited and the payment is 'refunding': "
            "run /refund_stars <code>{charge}</code> again to retry."
        ),
        Refund.REFUNDED: _("Refunded <code>{charge}</code>: it was never credited, so nothing was debited."),
    }


def _outcomes() -> dict[Refund, str]:
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
        Refund.BUSY: _(
            "Another /refund_stars of <code>{charge}</code> is still running. Nothing was changed: "
            "wait for its answer, then run /refund_stars <code>{charge}</code> again if it did not finish."
        ),
    }


def outcome(result: RefundResult, charge: str, fmt: Fmt) -> str:
    """What the admin reads after /refund_stars."""
    p = result.payment
    values = {
        "charge": escape(charge),
        "amount": fmt(p.amount) if p else "",
        "balance": fmt(result.balance),
        "error": escape(result.error),
    }
    texts = _outcomes()
    if not result.debited:
        texts.update(_never_credited())
    return texts[result.outcome].format(**values)


def told(stars: int, amount: str, debited: bool) -> str:
    """The user's notice of a refund."""
    if debited:
        text = ngettext(
            "↩️ Your {stars} Star was refunded; {amount} was taken from your balance.",
            "↩️ Your {stars} Stars were refunded; {amount} was taken from your balance.",
            stars,
        )
    else:
        text = ngettext(
            "↩️ Your {stars} Star was refunded. That payment was never added to your balance.",
            "↩️ Your {stars} Stars were refunded. That payment was never added to your balance.",
            stars,
        )
    return text.format(stars=stars, amount=amount)
