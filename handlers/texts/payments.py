"""Texts of a Stars top-up: the packages, the invoice, a refused pre-checkout, and what the user and the
admins are told when a payment Telegram took could not be credited. Pure functions, HTML."""

from __future__ import annotations

from html import escape

from aiogram.types import SuccessfulPayment
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from bot.money.stars import Credit, CreditResult, Refusal


def packages() -> str:
    return _("⭐ <b>Top up with Telegram Stars</b>\nPick a package; the amount is added to your balance at once.")


def package_gone() -> str:
    return _("This package is no longer offered.")


def invoice_title(stars: int) -> str:
    return _("{stars} Stars top-up").format(stars=stars)


def invoice_description(amount: str) -> str:
    return _("Adds {amount} to your balance.").format(amount=amount)


def invoice_label(amount: str) -> str:
    return _("Top-up {amount}").format(amount=amount)


def refusal(reason: Refusal) -> str:
    """Why a pre-checkout is refused: Telegram shows it on the payment form."""
    return {
        Refusal.BANNED: _("Payments are not available for this account."),
        Refusal.UNKNOWN_PACKAGE: _("This package is no longer offered. Please open /topup again."),
        Refusal.CURRENCY: _("Only Telegram Stars are accepted."),
        Refusal.AMOUNT: _("The amount does not match the package. Please open /topup again."),
    }[reason]


def facts(payment: SuccessfulPayment, user_id: int, error: str, amount: str = "") -> dict[str, object]:
    """What the failure texts name about a payment, escaped for HTML: its charge id, whose, what it carried."""
    return {
        "charge": escape(payment.telegram_payment_charge_id),
        "user": user_id,
        "payload": escape(payment.invoice_payload[:64]),
        "total": payment.total_amount,
        "currency": escape(payment.currency),
        "amount": amount,
        "error": escape(error),
    }


#: per outcome of a credit that failed: (the admins' alert, the user's message), translated when shown;
#: the placeholders come from :func:`facts`, and {reason} from the result
FAILURES = {
    Credit.REJECTED: (
        __(
            "⚠️ Stars payment <code>{charge}</code> of user {user} was NOT credited ({reason}): "
            "payload <code>{payload}</code>, {total} {currency}. Refund it with /refund_stars."
        ),
        __(
            "⚠️ This payment does not match any of our packages, so it was not added to your balance. "
            "The operator has its id and will refund your Stars."
        ),
    ),
    Credit.DELAYED: (
        __(
            "⚠️ Stars payment <code>{charge}</code> of user {user} ({total} {currency}, {amount}) is stored but "
            "its credit failed: {error}. The bot retries it every minute; check the database if it stays "
            "'received'."
        ),
        __(
            "⏳ Your payment is received and saved, but adding {amount} to your balance is delayed by a "
            "technical problem. The bot keeps retrying and sends your receipt when it is added."
        ),
    ),
    Credit.UNSTORED: (
        __(
            "🚨 Stars payment <code>{charge}</code> of user {user} ({total} {currency}, "
            "payload <code>{payload}</code>) could NOT be stored and was not credited: {error}. Telegram will not "
            "send it again; this message and the log are its only record. Credit the user by hand or refund the "
            "Stars."
        ),
        __(
            "⚠️ Your payment reached us, but a technical problem stopped us from recording it, so it is not on "
            "your balance. It was logged for the operator with your payment id <code>{charge}</code>; please keep "
            "this message."
        ),
    ),
}


def failure_for_admins(result: CreditResult, named: dict[str, object]) -> str:
    """The admins' alert for a payment not credited (call inside an i18n context)."""
    return str(FAILURES[result.outcome][0]).format(reason=result.refusal, **named)


def failure_for_user(result: CreditResult, named: dict[str, object]) -> str:
    """The user's message for a payment not credited (call inside an i18n context)."""
    return str(FAILURES[result.outcome][1]).format(**named)
