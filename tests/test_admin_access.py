"""The admin package: one filter for all of it, one refusal for everyone else, one path for every balance
change (commands and panel alike tell the user), and texts that show labels, not stored values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.filters import Command, StateFilter
from aiogram.fsm.state import State
from aiogram.utils.i18n import I18n

from bot.app import LOCALES
from bot.operator.accounts import UserCard
from handlers import admin
from handlers.admin.access import ADMIN_COMMANDS
from handlers.admin.texts.accounts import user_card
from handlers.admin.texts.broadcast import audience_name
from handlers.admin.texts.panel import label
from handlers.admin.texts.upstreams import BREAKER_STATES
from storage.ledger import Entry
from storage.orders import Order, OrderStatus
from storage.users import User
from tests.conftest import add_user
from tests.inprocess import live_bot

ADMIN = 1  # live_bot's ADMIN_IDS
USER = 4242


@pytest.fixture
def english() -> Iterator[None]:
    with I18n(path=LOCALES, default_locale="en", domain="messages").context():
        yield


def _commands_outside_forms() -> set[str]:
    """Every /command the admin routers answer when no form is waiting."""
    found: set[str] = set()
    for router in admin.router.chain_tail:
        for handler in router.message.handlers:
            callbacks = [f.callback for f in handler.filters or []]
            if any(isinstance(c, (State, StateFilter)) for c in callbacks):
                continue
            found |= {str(name) for c in callbacks if isinstance(c, Command) for name in c.commands}
    return found


def test_the_refusal_covers_every_admin_command() -> None:
    assert _commands_outside_forms() == set(ADMIN_COMMANDS)


def test_admin_routers_filter_messages_and_taps_once_at_the_top() -> None:
    def filters(observer: TelegramEventObserver) -> list[object]:
        return list(observer._handler.filters or [])  # what observer.filter() registered

    assert filters(admin.router.message) and filters(admin.router.callback_query)
    for router in admin.router.sub_routers:
        assert not filters(router.message) and not filters(router.callback_query), router.name


async def test_everyone_else_gets_one_refusal_for_every_admin_command(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as live:
        await add_user(live.db, USER, 500)
        for command in ADMIN_COMMANDS:
            before = len(live.fake.messages_to(USER))
            await live.say(USER, f"/{command} {USER} 1")
            replies = [m.get("text", "") for m in live.fake.messages_to(USER)[before:]]
            assert len(replies) == 1, (command, replies)
            assert "administrators" in replies[0] and "How it works" in replies[0], (command, replies)
        assert not live.errors


async def test_the_panels_debit_tells_the_user_like_debit_does(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as live:
        await add_user(live.db, USER, 500)
        await live.say(ADMIN, f"/user {USER}")
        await live.tap(ADMIN, "Debit")
        await live.say(ADMIN, "1.25 correction")
        admin_texts = [m.get("text", "") for m in live.fake.messages_to(ADMIN)]
        assert any("Debited 1.25 USD" in t and "New balance: 3.75 USD" in t for t in admin_texts), admin_texts
        assert "Balance: 3.75 USD" in admin_texts[-1]  # the card again
        assert "reduced by 1.25 USD" in live.fake.messages_to(USER)[-1]["text"]

        await live.say(ADMIN, f"/debit {USER} 0.75")
        assert "Debited 0.75 USD" in live.fake.messages_to(ADMIN)[-1]["text"]
        assert "reduced by 0.75 USD" in live.fake.messages_to(USER)[-1]["text"]
        await live.tap(ADMIN, "Credit")
        await live.say(ADMIN, "2 bonus")
        assert "topped up by 2.00 USD" in live.fake.messages_to(USER)[-1]["text"]
        assert not live.errors


def test_the_user_card_shows_labels_and_formatted_moments(english: None) -> None:
    user = User(USER, "alice", "Alice", "en", 250, False, False)
    at = "2026-01-02T03:04:05.678Z"
    entries = [
        Entry(1, USER, -59, 250, "renewal", "r1", 7, None, at),
        Entry(2, USER, 309, 309, "admin_credit", "a", None, "bonus", at),
    ]
    order = Order(
        7,
        USER,
        OrderStatus.CODE_RECEIVED,
        "p",
        "u",
        "+1555",
        "US",
        "whatsapp",
        59,
        None,
        None,
        2,
        3,
        datetime.now(UTC),
        "x",
    )
    text = user_card(UserCard(user, entries, [order]), lambda minor: f"{minor / 100:.2f} USD")
    assert "2026-01-02 03:04 −0.59 USD renewal" in text and "+3.09 USD top-up · bonus" in text
    assert "· code received ·" in text
    assert not any(raw in text for raw in ("code_received", "admin_credit", "T03"))


def test_counted_and_stored_values_read_as_words(english: None) -> None:
    assert audience_name("active:1") == "Active in the last 1 day"
    assert audience_name("active:30") == "Active in the last 30 days"
    assert label(BREAKER_STATES, "half_open") == "half-open" and label(BREAKER_STATES, "new") == "other"
