"""The user's texts: /help offers every command of the bot's menu, counted things read in the plural
only when plural, and stored values (order statuses, ledger kinds, timestamps) never reach the screen raw."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiogram.utils.i18n import I18n

from bot.app import LOCALES
from handlers import keyboards
from handlers.commands import bot_commands
from handlers.texts.balance import balance_text
from handlers.texts.orders import order_card
from handlers.texts.start import help_text
from storage.ledger import Entry
from storage.orders import Order, OrderSms, OrderStatus
from tests.inprocess import live_bot

USER = 4242


@pytest.fixture
def english() -> Iterator[None]:
    with I18n(path=LOCALES, default_locale="en", domain="messages").context():
        yield


def _order(status: OrderStatus = OrderStatus.CODE_RECEIVED) -> Order:
    expires = datetime.now(UTC) + timedelta(minutes=1, seconds=30)
    return Order(7, USER, status, "p", "u", "+15550001122", "US", "whatsapp", 59, None, None, 2, 3, expires, "x")


async def test_help_lists_every_command_of_the_menu_and_each_is_answered(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as live:
        await live.say(USER, "/help")
        with live.dp["i18n"].context():
            commands = [c.command for c in bot_commands()]
        shown = live.fake.messages_to(USER)[-1]["text"]
        assert commands and all(f"/{c} — " in shown for c in commands), shown
        for command in commands:
            before = len(live.fake.messages_to(USER))
            await live.say(USER, f"/{command}")
            replies = [m.get("text", "") for m in live.fake.messages_to(USER)[before:]]
            assert replies and not any("I did not get that" in r for r in replies), (command, replies)


def test_help_text_names_the_commands_of_set_my_commands(english: None) -> None:
    text = help_text()
    assert all(f"/{c.command} — {c.description}" in text for c in bot_commands())


def test_order_list_shows_a_status_label_not_the_stored_value(english: None) -> None:
    markup = keyboards.order_list([_order()])
    label = markup.inline_keyboard[0][0].text
    assert label.startswith("#7 ") and label.endswith("· code received") and "code_received" not in label


def test_counts_are_singular_or_plural(english: None) -> None:
    sms = [OrderSms(i, f"text {i}", None, True) for i in range(6)]
    card = order_card(_order(), sms, str, demo=True)
    assert "… 1 earlier message\n" in card and "(in 1 minute)" in card and "🧪 <b>DEMO</b>" in card
    seven = order_card(_order(), [*sms, OrderSms(6, "text 6", None, True)], str, demo=False)
    assert "… 2 earlier messages\n" in seven and "DEMO" not in seven


def test_balance_history_labels_every_kind_and_formats_the_moment(english: None) -> None:
    kinds = ["renewal", "purchase", "refund", "topup", "promo", "admin_credit", "admin_debit", "stars_refund"]
    at = "2026-01-02T03:04:05.678Z"
    entries = [Entry(i, USER, -100, 0, kind, f"r{i}", 7, None, at) for i, kind in enumerate(kinds)]
    entries.append(Entry(99, USER, 250, 0, "something_new", "r99", None, None, at))
    text = balance_text(150, entries, lambda minor: f"{minor / 100:.2f} USD")
    assert "2026-01-02 03:04 −1.00 USD renewal #7" in text
    assert "2026-01-02 03:04 +2.50 USD other" in text
    assert not any(kind in text for kind in ("admin_credit", "admin_debit", "stars_refund", "something_new", "T03"))
