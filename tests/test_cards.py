"""Card texts stay inside Telegram's limits whatever the upstream sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiogram.utils.i18n import I18n

from bot.app import LOCALES
from handlers.texts import limits, orders
from storage.orders import Order, OrderSms, OrderStatus
from tests.fakes import telegram_objects as tg


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
        text = orders.order_card(order, sms, str, demo=False)
        pushed = orders.code_message(order, sms[0], demo=False)
    assert len(text) < 4096 and len(pushed) < 4096 + 100
    assert "35 earlier messages" in text and "&lt;b&gt;39&lt;/b&gt;" in text  # newest kept, escaped
    assert "+1&lt;555&gt;" in text


def _order(phone: str = "+15550001122") -> Order:
    expires = datetime.now(UTC) + timedelta(minutes=20)
    return Order(7, 2, OrderStatus.CODE_RECEIVED, "p", "u", phone, "US", "whatsapp", 59, None, None, 2, 3, expires, "x")


def _pushed(sms: OrderSms, **kwargs: object) -> str:
    with I18n(path=LOCALES, default_locale="en", domain="messages").context():
        return orders.code_message(_order(), sms, demo=True, **kwargs)  # type: ignore[arg-type]


def _seen(html_text: str) -> str:
    """The message as Telegram's HTML parser leaves it (the fake Bot API's parser)."""
    return tg.render(html_text, "HTML")


def _room() -> int:
    """Characters an SMS text may have in a code message: 4096 minus everything else, after parsing."""
    return 4096 - tg.utf16_len(_seen(_pushed(OrderSms(1, "", None, False))))


def test_sms_text_fills_the_message_up_to_4096_after_parsing_escaped_characters_count_once() -> None:
    room = _room()
    exact = _seen(_pushed(OrderSms(1, "<" * room, None, False)))  # each "<" is sent as "&lt;" (4 characters)
    assert tg.utf16_len(exact) == 4096 and exact.endswith("<" * room)  # fits exactly: not cut
    over = _seen(_pushed(OrderSms(1, "<" * (room + 1), None, False)))
    assert tg.utf16_len(over) == 4096 and over.endswith("<" * (room - 1) + "…")  # one more: cut, with "…"
    huge = _seen(_pushed(OrderSms(1, "&<>" * 5000, "1234", False)))
    assert tg.utf16_len(huge) == 4096 and huge.endswith("…") and "code: 1234" in huge


def test_sms_text_is_cut_in_utf16_units_never_inside_an_emoji() -> None:
    seen = _seen(_pushed(OrderSms(1, "😀" * 3000, None, False)))  # 6000 UTF-16 units
    assert tg.utf16_len(seen) <= 4096 and seen.endswith("😀…")
    assert "\ufffd" not in seen


def test_short_form_keeps_the_sms_under_its_own_cap() -> None:
    seen = _seen(_pushed(OrderSms(1, "x" * 4000, None, False), sms_chars=limits.SHORT_SMS_CHARS))
    quoted = seen.rsplit("\n\n", 1)[-1]
    assert len(quoted) == limits.SHORT_SMS_CHARS and quoted.endswith("x…")


def test_an_upstream_code_of_4000_letters_is_no_code_and_the_message_fits() -> None:
    sms = OrderSms(1, "Code: " + "a" * 4000, "a" * 4000, False)  # stored before codes were checked
    seen = _seen(_pushed(sms))
    assert seen.startswith("🧪 DEMO · New SMS for WhatsApp") and tg.utf16_len(seen) <= 4096
    with I18n(path=LOCALES, default_locale="en", domain="messages").context():
        card = _seen(orders.order_card(_order(), [sms], str, demo=False))
    assert "a" * 300 not in card and tg.utf16_len(card) < 4096


def test_cut() -> None:
    assert limits.cut("abc", 3) == "abc"
    assert limits.cut("abcd", 3) == "ab…"
    assert limits.cut("<<<<", 3) == "<<…"  # raw text: escaping comes after, and counts nothing
    assert limits.cut("a😀", 3) == "a😀"  # 3 UTF-16 units
    assert limits.cut("a😀b", 3) == "a…"  # the emoji (2 units) does not fit with the ellipsis: never halved
    assert limits.cut("abc", 0) == ""
    assert limits.visible_length("<b>x &lt; y</b> 😀") == 8
