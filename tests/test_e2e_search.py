"""End to end: search by typing, the service-first screen, popular services and deep links, through the real
bot process, the fake Bot API and the demo upstream (WhatsApp in the US at 0.45 USD, 0.59 with MARKUP 30)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests import test_e2e as e2e
from tests.fakes.telegram import FakeTelegram

fake = e2e.fake
start_bot = e2e.start_bot
USER = e2e.USER


def purchases(tmp_path: Path) -> list[tuple[int, str]]:
    """(amount, reference) of every purchase charge in the bot's ledger."""
    with sqlite3.connect(f"file:{tmp_path / 'bot.sqlite3'}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT amount, reference FROM ledger WHERE kind = 'purchase' ORDER BY id").fetchall()
    return [(int(amount), str(reference)) for amount, reference in rows]


def newest(fake: FakeTelegram, sent: int) -> list[dict]:
    return fake.messages_to(USER)[sent:]


async def say(fake: FakeTelegram, text: str, needle: str, language_code: str = "en") -> dict:
    """Send ``text``; the first new message whose text holds ``needle``."""
    sent = len(fake.messages_to(USER))
    fake.send_message(USER, text, language_code=language_code)
    return await fake.wait_for(lambda: next((m for m in newest(fake, sent) if needle in m.get("text", "")), None))


def buttons(message: dict) -> list[str]:
    return [b["text"] for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]


async def buy_from_the_service_screen(fake: FakeTelegram, typed: str) -> None:
    screen = await say(fake, typed, "cheapest first")
    assert screen["text"].startswith("WhatsApp: 🇮🇩 0.16 USD · 🇮🇳 0.19 USD · 🇧🇷 0.29 USD · 🇺🇸 0.59 USD")
    labels = buttons(screen)
    assert labels[0] == "🇮🇩 Indonesia · 0.16 USD · 500 left"  # cheapest first, with price and stock
    assert any(label.startswith("🇺🇸 United States · 0.59 USD") for label in labels)
    confirmation = await e2e.tap(fake, USER, "United States")
    text = e2e.text_of(fake, USER, confirmation)
    assert "WhatsApp" in text and "United States" in text and "Price: 0.59 USD" in text
    card = await e2e.tap(fake, USER, "Confirm")
    await fake.wait_for(lambda: "Number:" in e2e.text_of(fake, USER, card))


async def test_typed_whatsapp_and_its_typos_lead_to_purchases(fake: FakeTelegram, start_bot, tmp_path: Path) -> None:
    await start_bot(DEMO_SMS_DELAY_SECONDS="600")
    await e2e.topped_up_user(fake)
    await buy_from_the_service_screen(fake, "whatsapp")
    await buy_from_the_service_screen(fake, "whatsap")
    await buy_from_the_service_screen(fake, "Watsapp")
    assert await e2e.ask_balance(fake) == "3.23 USD"
    charges = purchases(tmp_path)
    assert [amount for amount, _ in charges] == [-59, -59, -59]
    assert len({reference for _, reference in charges}) == 3


async def test_a_russian_user_finds_whatsapp_and_countries_by_russian_names(fake: FakeTelegram, start_bot) -> None:
    await start_bot()
    await say(fake, "/start", "", language_code="ru")
    screen = await say(fake, "вотсап", "WhatsApp", language_code="ru")
    labels = buttons(screen)
    assert labels[0].startswith("🇮🇩 Индонезия · 0,16")
    assert any(label.startswith("🇺🇸 Соединенные Штаты · 0,59") for label in labels)
    country = await say(fake, "германия", "Германия", language_code="ru")  # the country's services
    assert "Германия" in country["text"]
    assert any(label.startswith("Facebook") for label in buttons(country))


async def test_a_country_hit_opens_its_services(fake: FakeTelegram, start_bot) -> None:
    await start_bot()
    screen = await say(fake, "indonesia", "Indonesia")
    assert any(label.startswith("Shopee · ") for label in buttons(screen))
    await e2e.tap(fake, USER, "Shopee")
    await fake.wait_for(lambda: "Price: 0.11 USD" in e2e.last_text(fake, USER))


async def test_a_deep_link_opens_the_confirmation(fake: FakeTelegram, start_bot, tmp_path: Path) -> None:
    await start_bot(DEMO_SMS_DELAY_SECONDS="600")
    await e2e.topped_up_user(fake)
    screen = await say(fake, "/start whatsapp-US", "Price:")
    assert "WhatsApp · 🇺🇸 United States" in screen["text"]  # as the user sees it: tags rendered
    assert "Price: 0.59 USD" in screen["text"] and "Your balance: 5.00 USD" in screen["text"]
    assert "Welcome" not in screen["text"]
    await e2e.tap(fake, USER, "Confirm")
    await fake.wait_for(lambda: e2e.has_text(fake, USER, "Waiting for the SMS"))
    assert [amount for amount, _ in purchases(tmp_path)] == [-59]
    lower = await say(fake, "/start telegram-gb", "Price:")  # any case
    assert "Telegram" in lower["text"] and "United Kingdom" in lower["text"]


async def test_an_unknown_deep_link_falls_back_to_search(fake: FakeTelegram, start_bot, tmp_path: Path) -> None:
    await start_bot()
    screen = await say(fake, "/start whatsapp-FR", "not on sale right now")
    assert "cheapest first" in screen["text"] and "WhatsApp: 🇮🇩 0.16 USD" in screen["text"]
    assert any("Indonesia" in label for label in buttons(screen))
    nothing = await say(fake, "/start qqqzzzxxx", "not on sale right now")
    assert "Nothing found" in nothing["text"]
    assert purchases(tmp_path) == []


async def test_garbage_says_no_hit_and_suggests_names(fake: FakeTelegram, start_bot) -> None:
    await start_bot()
    reply = await say(fake, "qzxv kjhg", "Nothing found")
    assert "“qzxv kjhg”" in reply["text"]
    assert "WhatsApp" in buttons(reply)  # nothing close: the popular services instead
    near = await say(fake, "telxgrxm", "Nothing found")
    assert "Did you mean: Telegram" in near["text"]
    assert "Telegram" in buttons(near)
    await e2e.tap(fake, USER, "Telegram")
    await fake.wait_for(lambda: e2e.last_text(fake, USER).startswith("Telegram: 🇮🇩 0.24 USD"))
    unknown = await say(fake, "/nosuchcommand", "")  # a command is never searched
    assert "Nothing found" not in unknown["text"]


async def test_popular_services_open_the_service_first_screen(fake: FakeTelegram, start_bot) -> None:
    await start_bot(DEMO_SMS_DELAY_SECONDS="600")
    await e2e.topped_up_user(fake)
    menu = await say(fake, "/help", "")
    query = fake.press(USER, "m:popular", message_id=menu["message_id"])
    await fake.wait_for(lambda: query in fake.answered_callbacks())
    listed = next(m for m in fake.messages_to(USER) if m["message_id"] == menu["message_id"])
    assert "Popular services" in listed["text"]
    assert buttons(listed)[:3] == ["WhatsApp", "Telegram", "Google"]  # a new shop: the default list
    await e2e.tap(fake, USER, "Google")
    await fake.wait_for(lambda: e2e.text_of(fake, USER, menu["message_id"]).startswith("Google: 🇮🇩 0.12 USD"))
