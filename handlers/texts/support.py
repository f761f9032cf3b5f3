"""Texts of /paysupport (the user's side, and the operator's: each in the reader's language) and of the
built-in /terms. Pure functions, HTML."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.operator.support import SupportCase
from handlers.texts import labels
from providers.names import flag
from storage.orders import Order
from storage.support import StarCharge


def intro() -> str:
    """Refunds in two lines, then the ask."""
    return _(
        "💬 <b>Payment support</b>\n"
        "No code, no charge: cancelling a number before its code, or its expiry, refunds the price to your "
        "balance at once.\n"
        "Telegram Stars top-ups are refunded by the operator on request: tell us which payment and why.\n\n"
        "✍️ Send your message now, as one message (a screenshot with a caption works too), or /cancel."
    )


def support_button() -> str:
    return _("💬 Payment support")


def unavailable() -> str:
    return _("Support is not available in this bot right now. Please try again later.")


def too_many(limit: int) -> str:
    return ngettext(
        "You have written to support {n} time in the last hour. Please wait for the answer; you can write again later.",
        "You have written to support {n} times in the last hour. Please wait for the answer; you can write "
        "again later.",
        limit,
    ).format(n=limit)


def no_words() -> str:
    return _(
        "Please write your question in words (a photo or a file with a caption works too); a sticker or an "
        "empty message cannot be sent to support. Send it now, or /cancel."
    )


def sent() -> str:
    return _("✅ Your message was sent to support. The answer will come to this chat.")


def not_sent() -> str:
    return _("Your message could not be delivered to support right now. Please try again later.")


def cancelled() -> str:
    return _("Cancelled: nothing was sent to support.")


def reply_header() -> str:
    return _("💬 <b>Support replied:</b>")


def reply(html_text: str) -> str:
    """An admin's answer as the user reads it (``html_text``: the admin's message, as HTML)."""
    return f"{reply_header()}\n\n{html_text}\n\n" + _("To write again, send /paysupport.")


# -- the operator's side ---------------------------------------------------------------------------


def admin_header(case: SupportCase, fmt: Callable[[int], str]) -> str:
    """Who wrote, their balance, latest orders and Stars charge ids: above the user's words in an admin's chat."""
    user = case.user
    who = escape(user.first_name) + (f" @{escape(user.username)}" if user.username else "")
    lines = [
        _("🆘 <b>/paysupport</b> from {who}, id <code>{id}</code>").format(who=who, id=user.id),
        _("Balance: {balance}").format(balance=fmt(user.balance)),
        "",
        _("<b>Latest orders</b>"),
        *([_order_line(order, fmt) for order in case.orders] or [_("none")]),
        "",
        _("<b>Stars payments</b>"),
        *([_charge_line(charge) for charge in case.charges] or [_("none")]),
        "",
        _("Reply to this message to answer the user."),
    ]
    return "\n".join(lines)


def _order_line(order: Order, fmt: Callable[[int], str]) -> str:
    return labels.line(
        f"#{order.id} · {escape(labels.service(order.service))} · {flag(order.country)} "
        f"· {escape(labels.order_status(order.status))} · {fmt(order.price)}"
    )


def _charge_line(charge: StarCharge) -> str:
    return labels.line(
        f"<code>{escape(charge.charge_id)}</code> · {charge.stars} ⭐ · {escape(_payment_status(charge.status))}"
    )


def _payment_status(status: str) -> str:
    names = {
        "received": _("received, not credited yet"),
        "credited": _("credited"),
        "rejected": _("rejected"),
        "refunding": _("refund under way"),
        "refunded": _("refunded"),
    }
    return names.get(status, _("other"))


def quote(text: str) -> str:
    """The user's own words, escaped, below the header."""
    return f"<blockquote>{escape(text)}</blockquote>"


def delivered() -> str:
    return _("✅ Delivered to the user.")


def blocked() -> str:
    return _("⚠️ Not delivered: the user has blocked the bot.")


def failed(reason: str) -> str:
    return _("⚠️ Not delivered: {reason}").format(reason=escape(reason))


# -- /terms ----------------------------------------------------------------------------------------


def default_terms(write_off_limit: int, timeout_minutes: int) -> str:
    """The built-in terms: what is refunded, by kind of number, and how Stars top-ups are refunded."""
    if write_off_limit > 0:
        no_cancel = ngettext(
            "• <b>Numbers from suppliers that take no numbers back</b>: refunded the same way for up to {n} "
            "number a day that you leave unused. Past that, such numbers are sold as not refundable, and the "
            "confirmation screen says so before you pay.",
            "• <b>Numbers from suppliers that take no numbers back</b>: refunded the same way for up to {n} "
            "numbers a day that you leave unused. Past that, such numbers are sold as not refundable, and the "
            "confirmation screen says so before you pay.",
            write_off_limit,
        ).format(n=write_off_limit)
    else:
        no_cancel = _(
            "• <b>Numbers from suppliers that take no numbers back</b>: sold as not refundable; the "
            "confirmation screen says so before you pay."
        )
    return "\n\n".join(
        [
            _("📜 <b>Terms and refunds</b>"),
            _(
                "You buy temporary phone numbers to receive verification codes. Prices are shown before you "
                "pay and charged to your balance."
            ),
            ngettext(
                "• <b>Ordinary numbers</b>: no code, no charge. Cancel before a code arrives, or get no code "
                "within {minutes} minute, and the price goes back to your balance.",
                "• <b>Ordinary numbers</b>: no code, no charge. Cancel before a code arrives, or get no code "
                "within {minutes} minutes, and the price goes back to your balance.",
                timeout_minutes,
            ).format(minutes=timeout_minutes),
            no_cancel,
            _(
                "• <b>Rentals</b> (a number for several days) and their renewals: paid once the number is "
                "delivered, code or not; the confirmation screen says so."
            ),
            _(
                "• <b>A code received</b> means the order is fulfilled and paid. If the code was wrong or did "
                "not work, write to /paysupport."
            ),
            _(
                "• <b>Telegram Stars</b>: a top-up credits your balance. The balance is not paid out; a Stars "
                "payment is refunded by the operator on request through /paysupport, while your balance still "
                "covers it."
            ),
        ]
    )
