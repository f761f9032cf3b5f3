"""Every update gets an answer or is ignored on purpose: media and stray text, groups and channels,
anonymous group admins, taps on messages the bot cannot see, an empty language_code. Through the real
dispatcher, routers and middlewares (:mod:`tests.inprocess`) and the strict fake Bot API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from bot.app import LOCALES
from handlers.texts.start import welcome
from tests.fakes import telegram_objects as tg
from tests.inprocess import LiveBot, live_bot

USER, OTHER = 4242, 5151
GROUP, SUPERGROUP, CHANNEL = -4001, -1001234567890, -1009876543210
PRIVATE_LINK = "https://t.me/test_sms_bot"
HINT = "I did not get that"


@pytest.fixture
async def live(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> AsyncIterator[LiveBot]:
    caplog.set_level(logging.INFO)
    async with live_bot(tmp_path) as bot:
        yield bot
    assert bot.errors == [], bot.errors  # nothing escaped the dispatcher
    failed = [r.getMessage() for r in caplog.records if r.name == "handlers.errors"]
    assert failed == [], failed  # and no handler failed ("Something went wrong")


def texts(live: LiveBot, chat_id: int) -> list[str]:
    return [m.get("text", "") for m in live.fake.messages_to(chat_id)]


def buttons(message: dict) -> list[tuple[str, str]]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


async def test_stickers_photos_and_stray_text_get_the_menu_hint(live: LiveBot) -> None:
    live.fake.send_sticker(USER)
    live.fake.send_user_photo(USER)
    live.fake.send_user_photo(USER, caption="what is this")
    live.fake.send_message(USER, "/nosuchcommand")
    await live.feed()
    hints = live.fake.messages_to(USER)
    assert len(hints) == 4  # stray text is a search now (handlers/search.py, tests/test_e2e_search.py)
    for hint in hints:
        assert HINT in hint["text"] and "\n" not in hint["text"]  # one short line
        assert buttons(hint) == [("⬅️ Menu", "m:home")]
    await live.tap(USER, "Menu")
    assert "Welcome" in texts(live, USER)[-1]


async def test_a_group_gets_one_line_pointing_to_the_private_chat_and_nothing_else(live: LiveBot) -> None:
    await live.say(USER, "/buy", chat_id=GROUP)
    assert texts(live, GROUP) == [f"🔒 I work in a private chat only: {PRIVATE_LINK}"]
    assert "reply_markup" not in live.fake.messages_to(GROUP)[0]  # no catalog, no buttons
    await live.say(USER, "/buy@test_sms_bot", chat_id=SUPERGROUP)
    await live.say(USER, "hi all, @test_sms_bot sells numbers", chat_id=SUPERGROUP)
    assert texts(live, SUPERGROUP) == [f"🔒 I work in a private chat only: {PRIVATE_LINK}"] * 2
    for chatter in ("hello everyone", "/buy@another_bot"):  # not for us: ignored on purpose
        await live.say(USER, chatter, chat_id=SUPERGROUP)
    assert len(texts(live, SUPERGROUP)) == 2
    assert texts(live, USER) == []  # nothing in the private chat either


async def test_an_anonymous_group_admin_gets_the_line_not_an_error(live: LiveBot) -> None:
    for command in ("/buy", "/orders", "/balance", "/start"):  # sent by GroupAnonymousBot, as the group
        await live.say(USER, command, chat_id=SUPERGROUP, anonymous_admin=True)
    assert texts(live, SUPERGROUP) == [f"🔒 I work in a private chat only: {PRIVATE_LINK}"] * 4


async def test_a_channel_post_command_gets_the_line(live: LiveBot) -> None:
    live.fake.channel_post(CHANNEL, "/buy")
    live.fake.channel_post(CHANNEL, "Our weekly news")  # ignored on purpose
    await live.feed()
    assert texts(live, CHANNEL) == [f"🔒 I work in a private chat only: {PRIVATE_LINK}"]


async def test_a_tap_in_a_group_is_answered_with_the_line_and_changes_nothing(live: LiveBot) -> None:
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Buy", callback_data="m:buy")]])
    sent = await live.bot.send_message(GROUP, "an old catalog", reply_markup=markup)
    calls = len(live.fake.calls)
    query_id = live.fake.press(USER, "m:buy", message_id=sent.message_id, chat_id=GROUP)
    await live.feed()
    answer = live.fake.calls_of("answerCallbackQuery")[-1].params
    assert answer["callback_query_id"] == query_id and PRIVATE_LINK in answer["text"]
    assert [c.method for c in live.fake.calls[calls:] if c.method != "getMe"] == ["answerCallbackQuery"]


async def test_taps_on_messages_the_bot_cannot_see_get_a_fresh_menu(live: LiveBot) -> None:
    card = await live.buy_whatsapp_us(USER)
    _, cancel = live.fake.find_button(USER, "Cancel")
    own_message = live.fake.send_message(USER, "my own words")  # a message the bot never sent
    await live.feed()
    upstream_calls = live.upstream.actions()
    for origin, message_id in (("inline", card), ("inaccessible", card), ("message", own_message)):
        sent = len(live.fake.messages_to(USER))
        query_id = live.fake.press(USER, cancel, message_id=message_id, origin=origin)
        await live.feed()
        assert query_id in live.fake.answered_callbacks(), origin
        fresh = live.fake.messages_to(USER)[sent:]
        assert len(fresh) == 1 and "Welcome" in fresh[0]["text"], (origin, fresh)
        assert ("📱 Buy a number", "m:buy") in buttons(fresh[0])
    card_text = next(m["text"] for m in live.fake.messages_to(USER) if m["message_id"] == card)
    assert "Waiting for the SMS" in card_text  # not cancelled from any of those
    assert live.upstream.actions() == upstream_calls


async def test_a_tap_on_a_message_gone_from_the_chat_sends_the_screen_anew(live: LiveBot) -> None:
    await live.say(USER, "/start")
    _, home = live.fake.find_button(USER, "Help")
    query_id = live.fake.press(USER, home, message_id=999, origin="unknown")  # edit: "message to edit not found"
    await live.feed()
    assert query_id in live.fake.answered_callbacks()
    assert "How it works" in texts(live, USER)[-1] and len(texts(live, USER)) == 2


@pytest.mark.parametrize("language_code", ["", None, "zz-zz", "de-DE"])
async def test_a_user_with_an_empty_odd_or_unshipped_language_gets_english(
    live: LiveBot, language_code: str | None
) -> None:
    await live.say(OTHER, "/start", language_code=language_code)
    assert len(texts(live, OTHER)) == 1 and "Welcome" in texts(live, OTHER)[0]


async def test_a_regional_code_reads_its_language(live: LiveBot) -> None:
    await live.say(OTHER, "/start", language_code="pt-br")  # as Telegram sends a Brazilian's
    (text,) = texts(live, OTHER)
    i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
    with i18n.context(), i18n.use_locale("pt"):
        portuguese = welcome()
    assert "Welcome" not in portuguese and tg.render(portuguese, "HTML") == text
