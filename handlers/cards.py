"""Texts of the screens that both handlers and scheduled jobs show: pure functions, HTML."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape, unescape

from aiogram.utils.i18n import gettext as _

from providers.names import country_name, flag, service_name
from providers.otp import upstream_code
from storage.ledger import Entry
from storage.orders import Order, OrderSms, OrderStatus

CARD_SMS = 5  # SMS shown on the order card (each also arrives as its own message)
CARD_SMS_CHARS = 300
#: Telegram's limit for a message: characters after entity parsing, counted in UTF-16 code units
TEXT_LIMIT = 4096
#: the SMS in the short form of a code message, sent when Telegram refused the full one as too long
SHORT_SMS_CHARS = 500
#: upstream-given names shown in a card or a code message are cut to these lengths
PHONE_CHARS, SERVICE_CHARS = 32, 64

_TAG = re.compile(r"<[^<>]*>")


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_length(html_text: str) -> int:
    """What Telegram counts of an HTML message: tags become entities and count nothing, ``&lt;`` counts one."""
    return _units(unescape(_TAG.sub("", html_text)))


def cut(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters (UTF-16 units), else its start and "…" in ``limit``."""
    if _units(text) <= limit:
        return text
    if limit <= 0:
        return ""
    start = text.encode("utf-16-le")[: (limit - 1) * 2].decode("utf-16-le", errors="ignore")  # no half emoji
    return start + "…"


def _service(order: Order) -> str:
    return escape(cut(service_name(order.service), SERVICE_CHARS))


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


def order_card(
    order: Order, sms: list[OrderSms], fmt: Callable[[int], str], *, demo: bool, now: datetime | None = None
) -> str:
    now = now or datetime.now(UTC)
    lines = [
        ("🧪 <b>DEMO</b> " if demo else "")
        + _("<b>Order #{id}</b> · {service} · {flag} {country}").format(
            id=order.id,
            service=_service(order),
            flag=flag(order.country),
            country=escape(country_name(order.country)),
        ),
    ]
    if order.phone:
        lines.append(_("Number: <code>{phone}</code>").format(phone=_phone(order)))
    lines.append(_("Price: {price}").format(price=fmt(order.price)))
    lines.append(status_line(order))
    if order.status in (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED):
        minutes = max(int((order.expires_at - now).total_seconds() // 60), 0)
        lines.append(
            _("Expires at {time} UTC (in {minutes} min)").format(
                time=order.expires_at.astimezone(UTC).strftime("%H:%M"), minutes=minutes
            )
        )
    if len(sms) > CARD_SMS:
        lines.append(_("… {n} earlier messages").format(n=len(sms) - CARD_SMS))
    for item in sms[-CARD_SMS:]:  # the card stays far below Telegram's 4096 characters
        code = upstream_code(item.code)  # one stored before codes were checked may be any text
        shown = f"<code>{escape(code)}</code> · " if code else ""
        lines.append(f"💬 {shown}{escape(cut(item.text, CARD_SMS_CHARS))}")
    if order.status is OrderStatus.ACTIVE and order.refundable:
        lines.append(_("Enter the number in the app; the code will be sent here. No code, no charge."))
    elif order.status is OrderStatus.ACTIVE:
        lines.append(_("Enter the number in the app; the code will be sent here. This number is not refundable."))
    return "\n".join(lines)


def code_message(order: Order, sms: OrderSms, *, demo: bool, sms_chars: int = TEXT_LIMIT) -> str:
    """The message pushed for one SMS: the code, the number, and the SMS text, cut (to at most
    ``sms_chars`` characters) so that the whole message stays within Telegram's TEXT_LIMIT."""
    head = "🧪 DEMO · " if demo else ""
    code = upstream_code(sms.code)
    if code:
        title = _("{service} code: <code>{code}</code>").format(service=_service(order), code=escape(code))
    else:
        title = _("New SMS for {service}").format(service=_service(order))
    top = f"{head}{title}\n" + _("Number: <code>{phone}</code> (order #{id})").format(phone=_phone(order), id=order.id)
    room = min(TEXT_LIMIT - visible_length(top) - 2, sms_chars)  # 2: the blank line before the quote
    return f"{top}\n\n<blockquote>{escape(cut(sms.text, room))}</blockquote>"


def balance_text(balance: int, entries: list[Entry], fmt: Callable[[int], str]) -> str:
    lines = [_("💰 Your balance: <b>{balance}</b>").format(balance=fmt(balance))]
    if entries:
        lines.append("")
        lines.append(_("Latest movements:"))
    kinds = {
        "purchase": _("purchase"),
        "refund": _("refund"),
        "admin_credit": _("top-up"),
        "admin_debit": _("correction"),
        "topup": _("top-up"),
        "promo": _("promo code"),
        "stars_refund": _("Stars refund"),
        "stars_refund_reversal": _("Stars refund reversed"),
        "renewal": _("renewal"),
    }
    for entry in entries:
        sign = "+" if entry.amount > 0 else "−"
        what = kinds.get(entry.kind, entry.kind)
        order = f" #{entry.order_id}" if entry.order_id else ""
        lines.append(f"{entry.created_at[:16].replace('T', ' ')} {sign}{fmt(abs(entry.amount))} {what}{order}")
    return "\n".join(lines)
