"""Texts of Reply by SMS from a rented number: the prompt, the preview, and what came of it. HTML."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.orders.outbound import GSM7_LIMIT, UCS2_LIMIT, Reply, ReplyResult


def ask(result: ReplyResult, fmt: Callable[[int], str]) -> str:
    """The prompt for the text, once the reply is possible."""
    assert result.order is not None and result.recipient is not None and result.price is not None
    return _(
        "✉️ Reply by SMS from <code>{phone}</code> to <code>{recipient}</code>.\n"
        "Send the text as your next message: one SMS of up to {gsm} Latin or {ucs} other characters, "
        "no links. Price: {price}, refunded if the supplier refuses it.\n/cancel to leave."
    ).format(
        phone=escape(result.order.phone or ""),
        recipient=escape(result.recipient),
        gsm=GSM7_LIMIT,
        ucs=UCS2_LIMIT,
        price=fmt(result.price),
    )


def preview(text: str, result: ReplyResult, fmt: Callable[[int], str]) -> str:
    assert result.recipient is not None and result.price is not None
    return _("Send this SMS to <code>{recipient}</code> for {price}?\n\n{text}").format(
        recipient=escape(result.recipient), price=fmt(result.price), text=escape(text)
    )


def send_button(price: str) -> str:
    return _("📤 Send · {price}").format(price=price)


def drop_button() -> str:
    return _("✖️ Don't send")


def dropped() -> str:
    return _("No SMS was sent.")


def text_only() -> str:
    return _("Send the SMS as plain text, or /cancel.")


def outdated() -> str:
    return _("This preview is outdated: nothing was sent.")


def outcome(result: ReplyResult, fmt: Callable[[int], str]) -> str:
    """What came of a reply (or why it cannot be written), in one or two lines."""
    price = fmt(result.price) if result.price is not None else ""
    limit = result.limit or 0
    texts = {
        Reply.SENT: lambda: _("✅ SMS sent to <code>{recipient}</code>; {price} charged."),
        Reply.REFUSED: lambda: _("The supplier refused to send this SMS; {price} refunded."),
        Reply.UNCLEAR: lambda: _(
            "The supplier did not confirm this SMS. It may have been sent, so it is not refunded and not "
            "sent again; the operator will check it."
        ),
        Reply.OFF: lambda: _("Replies by SMS are not available."),
        Reply.NOT_FOUND: lambda: _("Order not found."),
        Reply.UNSUPPORTED: lambda: _("SMS can be sent only from a rented number whose supplier sends them."),
        Reply.CLOSED: lambda: _("This number is no longer yours to send from."),
        Reply.NO_RECIPIENT: lambda: _(
            "Nobody to reply to yet: a reply goes to a phone number that texted this number, and none has."
        ),
        Reply.EMPTY: lambda: _("The SMS is empty. Send its text, or /cancel."),
        Reply.TOO_LONG: lambda: _("Too long for one SMS: at most {limit} characters here. Shorten it, or /cancel."),
        Reply.LINK: lambda: _("Links are not allowed in an SMS. Send the text without it, or /cancel."),
        Reply.ORDER_LIMIT: lambda: ngettext(
            "At most {limit} SMS can be sent from one number.",
            "At most {limit} SMS can be sent from one number.",
            limit,
        ),
        Reply.DAILY_LIMIT: lambda: ngettext(
            "At most {limit} SMS a day per user. Try again tomorrow.",
            "At most {limit} SMS a day per user. Try again tomorrow.",
            limit,
        ),
        Reply.INSUFFICIENT: lambda: _("Not enough balance: one SMS costs {price}."),
        Reply.DUPLICATE: lambda: _("This SMS was already sent once."),
    }
    recipient = escape(result.recipient or "")
    return texts[result.outcome]().format(recipient=recipient, price=price, limit=limit)
