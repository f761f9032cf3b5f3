"""Card texts stay inside Telegram's limits whatever the upstream sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiogram.utils.i18n import I18n

from bot.app import LOCALES
from handlers import cards
from storage.orders import Order, OrderSms, OrderStatus


def test_card_with_many_long_sms_stays_under_4096() -> None:
    order = Order(
        1,
        2,
        OrderStatus.CODE_RECEIVED,
        "p",
        "u",
        "+1<555>",
        "US",
        "whatsapp",
        59,
        None,
        None,
        2,
        3,
        datetime.now(UTC) + timedelta(days=7),
        "2026-01-01",
    )
    sms = [OrderSms(i, f"<b>{i}</b> " + "x" * 2000, "1234", True) for i in range(40)]
    with I18n(path=LOCALES, default_locale="en", domain="messages").context():
        text = cards.order_card(order, sms, str, demo=False)
        pushed = cards.code_message(order, sms[0], demo=False)
    assert len(text) < 4096 and len(pushed) < 4096 + 100
    assert "35 earlier messages" in text and "&lt;b&gt;39&lt;/b&gt;" in text  # newest kept, escaped
    assert "+1&lt;555&gt;" in text
