"""Texts of the screens that both handlers and scheduled jobs show: pure functions, HTML."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from html import escape

from aiogram.utils.i18n import gettext as _

from providers.services import country_name, flag, service_name
from storage.ledger import Entry
from storage.orders import Order, OrderSms, OrderStatus

CARD_SMS = 5  # SMS shown on the order card (each also arrives as its own message)
CARD_SMS_CHARS = 300
SMS_MESSAGE_CHARS = 3500


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
            service=escape(service_name(order.service)),
            flag=flag(order.country),
            country=escape(country_name(order.country)),
        ),
    ]
    if order.phone:
        lines.append(_("Number: <code>{phone}</code>").format(phone=escape(order.phone)))
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
        code = f"<code>{escape(item.code)}</code> · " if item.code else ""
        text = item.text if len(item.text) <= CARD_SMS_CHARS else item.text[: CARD_SMS_CHARS - 1] + "…"
        lines.append(f"💬 {code}{escape(text)}")
    if order.status is OrderStatus.ACTIVE and order.refundable:
        lines.append(_("Enter the number in the app; the code will be sent here. No code, no charge."))
    elif order.status is OrderStatus.ACTIVE:
        lines.append(_("Enter the number in the app; the code will be sent here. This number is not refundable."))
    return "\n".join(lines)


def code_message(order: Order, sms: OrderSms, *, demo: bool) -> str:
    head = "🧪 DEMO · " if demo else ""
    if sms.code:
        title = _("{service} code: <code>{code}</code>").format(
            service=escape(service_name(order.service)), code=escape(sms.code)
        )
    else:
        title = _("New SMS for {service}").format(service=escape(service_name(order.service)))
    return (
        f"{head}{title}\n"
        + _("Number: <code>{phone}</code> (order #{id})").format(phone=escape(order.phone or ""), id=order.id)
        + f"\n\n<blockquote>{escape(sms.text[:SMS_MESSAGE_CHARS])}</blockquote>"
    )


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
