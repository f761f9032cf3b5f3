"""Texts of an order: its card (kept current in the chat), the message pushed for each SMS, the line
for it in /orders, the renewal question and the answers to the card's buttons. Pure functions, HTML."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.orders.outcomes import Outcome, Result
from handlers.texts import labels
from handlers.texts.limits import TEXT_LIMIT, cut, visible_length
from providers.names import flag
from providers.otp import upstream_code
from storage.orders import Order, OrderSms, OrderStatus

CARD_SMS = 5  # SMS shown on the order card (each also arrives as its own message)
CARD_SMS_CHARS = 300
#: upstream-given names shown in a card or a code message are cut to these lengths
PHONE_CHARS, SERVICE_CHARS = 32, 64


def _service(order: Order) -> str:
    return escape(cut(labels.service(order.service), SERVICE_CHARS))


def _phone(order: Order) -> str:
    return escape(cut(order.phone or "", PHONE_CHARS))


def status_line(order: Order) -> str:
    if not order.refundable and order.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        return _("⌛ Ended without a code (not refundable)")
    return {
        OrderStatus.PENDING: _("⏳ Getting your number…"),
        OrderStatus.ACTIVE: _("⏳ Waiting for the SMS…"),
        OrderStatus.CODE_RECEIVED: _("✅ Code received"),
        OrderStatus.COMPLETED: _("✔️ Completed"),
        OrderStatus.CANCELLED: _("❌ Cancelled, the price was refunded"),
        OrderStatus.EXPIRED: _("⌛ Expired without a code, the price was refunded"),
        OrderStatus.FAILED: _("⚠️ Could not get a number, the price was refunded"),
        OrderStatus.UNKNOWN: _("⏳ Checking with the supplier…"),
    }[order.status]


def _expiry(order: Order, now: datetime) -> str:
    minutes = max(int((order.expires_at - now).total_seconds() // 60), 0)
    return ngettext(
        "Expires at {time} UTC (in {minutes} minute)", "Expires at {time} UTC (in {minutes} minutes)", minutes
    ).format(time=order.expires_at.astimezone(UTC).strftime("%H:%M"), minutes=minutes)


def _sms_lines(sms: list[OrderSms]) -> list[str]:
    """The newest SMS, each cut short: the card stays far below Telegram's 4096 characters."""
    lines = []
    if len(sms) > CARD_SMS:
        hidden = len(sms) - CARD_SMS
        lines.append(ngettext("… {n} earlier message", "… {n} earlier messages", hidden).format(n=hidden))
    for item in sms[-CARD_SMS:]:
        code = upstream_code(item.code)  # one stored before codes were checked may be any text
        shown = f"<code>{escape(code)}</code> · " if code else ""
        lines.append(f"💬 {shown}{escape(cut(item.text, CARD_SMS_CHARS))}")
    return lines


def order_card(
    order: Order, sms: list[OrderSms], fmt: Callable[[int], str], *, demo: bool, now: datetime | None = None
) -> str:
    title = _("<b>Order #{id}</b> · {service} · {flag} {country}").format(
        id=order.id, service=_service(order), flag=flag(order.country), country=escape(labels.country(order.country))
    )
    lines = [f"🧪 <b>{labels.demo()}</b> {title}" if demo else title]
    if order.phone:
        lines.append(_("Number: <code>{phone}</code>").format(phone=_phone(order)))
    lines.append(_("Price: {price}").format(price=fmt(order.price)))
    lines.append(status_line(order))
    if order.status in (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED):
        lines.append(_expiry(order, now or datetime.now(UTC)))
    lines += _sms_lines(sms)
    if order.status is OrderStatus.ACTIVE and order.refundable:
        lines.append(_("Enter the number in the app; the code will be sent here. No code, no charge."))
    elif order.status is OrderStatus.ACTIVE:
        lines.append(_("Enter the number in the app; the code will be sent here. This number is not refundable."))
    return "\n".join(lines)


def code_message(order: Order, sms: OrderSms, *, demo: bool, sms_chars: int = TEXT_LIMIT) -> str:
    """The message pushed for one SMS: the code, the number, and the SMS text, cut (to at most
    ``sms_chars`` characters) so that the whole message stays within Telegram's TEXT_LIMIT."""
    head = f"🧪 {labels.demo()} · " if demo else ""
    code = upstream_code(sms.code)
    if code:
        title = _("{service} code: <code>{code}</code>").format(service=_service(order), code=escape(code))
    else:
        title = _("New SMS for {service}").format(service=_service(order))
    top = f"{head}{title}\n" + _("Number: <code>{phone}</code> (order #{id})").format(phone=_phone(order), id=order.id)
    room = min(TEXT_LIMIT - visible_length(top) - 2, sms_chars)  # 2: the blank line before the quote
    return f"{top}\n\n<blockquote>{escape(cut(sms.text, room))}</blockquote>"


def order_list(has_orders: bool, page: int = 0, pages: int = 1, *, open_only: bool = False) -> str:
    """The head of a page of /orders (``page`` from 0 of ``pages``)."""
    if not has_orders:
        return _("You have no open orders.") if open_only else _("You have no orders yet.")
    head = _("🧾 Your open orders:") if open_only else _("🧾 Your orders, the newest first:")
    if pages > 1:
        head += " " + _("page {page} of {pages}").format(page=page + 1, pages=pages)
    return head


def order_button(order: Order) -> str:
    """An order's line in /orders: "#" and its id, the service, the status."""
    status = labels.order_status(order.status)
    return labels.line(f"#{order.id} {flag(order.country)} {labels.service(order.service)} · {status}")


def renew_question(order: Order, days: int, price: str) -> str:
    question = ngettext(
        "Renew <code>{phone}</code> for {days} more day for {price}?",
        "Renew <code>{phone}</code> for {days} more days for {price}?",
        days,
    ).format(phone=escape(order.phone or ""), days=days, price=price)
    terms = _("A renewal is not refunded once the supplier confirms it, whether or not an SMS arrives.")
    return f"{question}\n{terms}"


def not_found() -> str:
    return _("Order not found.")


def renewal_unavailable() -> str:
    return _("Renewal is not available for this number right now.")


def action_notice(result: Result, fmt: Callable[[int], str]) -> str | None:
    """The answer to Cancel, Another code or a renewal on the card; None when the card says it all."""
    if result.outcome is Outcome.REFUSED and result.retry_after:
        seconds = int(result.retry_after)
        return ngettext(
            "The supplier allows cancelling in {seconds} second. Try again then.",
            "The supplier allows cancelling in {seconds} seconds. Try again then.",
            seconds,
        ).format(seconds=seconds)
    price = fmt(result.order.price) if result.order else ""
    return {
        Outcome.CANCELLED: _("Cancelled. {price} is back on your balance.").format(price=price),
        Outcome.HAS_CODE: _("A code has arrived, so this order can no longer be cancelled."),
        Outcome.REFUSED: _("The supplier does not allow cancelling yet. Try again in a minute."),
        Outcome.UNAVAILABLE: _("The supplier is not answering. Try again in a minute."),
        Outcome.CLOSED: _("This order is already closed."),
        Outcome.REQUESTED: _("Asked for another code; it will be sent here."),
        Outcome.UNSUPPORTED: _("This number cannot receive another code."),
        Outcome.RENEWED: _("Renewed."),
        Outcome.INSUFFICIENT: _("Not enough balance to renew."),
        Outcome.OUT_OF_STOCK: renewal_unavailable(),
        Outcome.PRICE_CHANGED: _("The renewal price went up; open Renew again to see it."),
        Outcome.NOT_REFUNDABLE: _("This number is not refundable, so it cannot be cancelled."),
        Outcome.UNKNOWN: _(
            "The supplier did not answer clearly. We are checking: the days are added or the price "
            "comes back to your balance."
        ),
        Outcome.DUPLICATE: _("This renewal was already requested."),
    }.get(result.outcome)
