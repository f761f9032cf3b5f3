"""End to end: favourites, Buy again, several numbers at once and /orders' pages, through the real bot
process, the fake Bot API and the demo upstream (WhatsApp in the US at 0.45 USD, 0.59 with MARKUP 30)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests import test_e2e as e2e
from tests.fakes.telegram import FakeTelegram

fake = e2e.fake
start_bot = e2e.start_bot
USER, tap, text_of = e2e.USER, e2e.tap, e2e.text_of
#: numbers wait for their code this long: orders stay open while the test looks at them
NO_CODE = "600"


def purchases(tmp_path: Path) -> list[tuple[int, str]]:
    """(amount, reference) of every purchase charge in the bot's ledger."""
    with sqlite3.connect(f"file:{tmp_path / 'bot.sqlite3'}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT amount, reference FROM ledger WHERE kind = 'purchase' ORDER BY id").fetchall()
    return [(int(amount), str(reference)) for amount, reference in rows]


def rows(message: dict) -> list[list[dict]]:
    return message.get("reply_markup", {}).get("inline_keyboard", [])


def message(fake: FakeTelegram, message_id: int) -> dict:
    return next(m for m in fake.messages_to(USER) if m["message_id"] == message_id)


async def command(fake: FakeTelegram, text: str, needle: str) -> dict:
    """Send ``text``; the first new message whose text holds ``needle``."""
    sent = len(fake.messages_to(USER))
    fake.send_message(USER, text)
    return await fake.wait_for(lambda: next((m for m in fake.messages_to(USER)[sent:] if needle in m["text"]), None))


async def press(fake: FakeTelegram, message_id: int, prefix: str) -> None:
    """Press the button of ``message_id`` whose callback data starts with ``prefix``."""
    data = next(
        b["callback_data"]
        for row in rows(message(fake, message_id))
        for b in row
        if b.get("callback_data", "").startswith(prefix)
    )
    query = fake.press(USER, data, message_id=message_id)
    await fake.wait_for(lambda: query in fake.answered_callbacks())


async def whatsapp_us_from_buy(fake: FakeTelegram) -> int:
    """/buy, then the United States, then WhatsApp: the confirmation's message id."""
    await command(fake, "/buy", "Choose a country")
    await tap(fake, USER, "United States")
    screen = await tap(fake, USER, "WhatsApp")
    await fake.wait_for(lambda: "Price: 0.59 USD" in text_of(fake, USER, screen))
    return screen


def cards(fake: FakeTelegram) -> list[dict]:
    """The order cards in the chat (each kept current in place)."""
    return [m for m in fake.messages_to(USER) if "Order #" in m.get("text", "")]


async def test_a_starred_pair_comes_first_in_buy_and_buys(
    fake: FakeTelegram, start_bot: e2e.StartBot, tmp_path: Path
) -> None:
    await start_bot()
    await e2e.topped_up_user(fake)
    await e2e.buy_whatsapp_us(fake)
    screen = await tap(fake, USER, "Add to favourites")
    await fake.wait_for(lambda: "In favourites" in str(rows(message(fake, screen))))
    assert "Price: 0.59 USD" in text_of(fake, USER, screen)

    entry = await command(fake, "/buy", "favourites")
    first = rows(entry)[0][0]
    assert first["text"].startswith("⭐ WhatsApp") and "United States" in first["text"] and "0.59 USD" in first["text"]
    assert ["🔥 Popular services", "🌍 By country"] == [b["text"] for b in rows(entry)[1]]
    assert any("Germany" in b["text"] for row in rows(entry) for b in row)  # the countries as before, below
    assert purchases(tmp_path) == []

    screen = await tap(fake, USER, "⭐ WhatsApp")
    assert "Price: 0.59 USD" in text_of(fake, USER, screen) and "In favourites" in str(rows(message(fake, screen)))
    card = await tap(fake, USER, "Confirm")
    await fake.wait_for(lambda: "Code received" in text_of(fake, USER, card), timeout=20)
    assert [amount for amount, _ in purchases(tmp_path)] == [-59]

    # Buy again on the finished card: the confirmation at today's price, no charge until Confirm
    await tap(fake, USER, "Done")
    await fake.wait_for(lambda: "Buy again" in str(rows(message(fake, card))))
    screen = await tap(fake, USER, "Buy again")
    await fake.wait_for(lambda: "Price: 0.59 USD" in text_of(fake, USER, screen))
    assert len(purchases(tmp_path)) == 1  # never a silent charge
    again = await tap(fake, USER, "Confirm")
    await fake.wait_for(lambda: "Number:" in text_of(fake, USER, again))
    assert [amount for amount, _ in purchases(tmp_path)] == [-59, -59]

    # Buy again from /orders: 🛒 beside the finished order
    listing = await command(fake, "/orders", "Your orders")
    assert any(b["text"] == "🛒" for row in rows(listing) for b in row)
    await press(fake, listing["message_id"], "s:US:whatsapp")
    await fake.wait_for(lambda: "Price: 0.59 USD" in text_of(fake, USER, listing["message_id"]))
    assert len(purchases(tmp_path)) == 2

    # unstarred: /buy no longer lists it
    screen = await tap(fake, USER, "In favourites")
    await fake.wait_for(lambda: "Add to favourites" in str(rows(message(fake, screen))))
    entry = await command(fake, "/buy", "Choose a country")
    assert not any("⭐" in b["text"] for row in rows(entry) for b in row)


async def test_quantity_three_makes_three_orders_charges_and_cards(
    fake: FakeTelegram, start_bot: e2e.StartBot, tmp_path: Path
) -> None:
    await start_bot(DEMO_SMS_DELAY_SECONDS=NO_CODE)
    await e2e.topped_up_user(fake)
    await e2e.buy_whatsapp_us(fake)
    screen = fake.find_button(USER, "Confirm")[0]
    await press(fake, screen, "q:US:whatsapp:3")
    await fake.wait_for(lambda: "1.77 USD" in text_of(fake, USER, screen))
    assert "3 numbers" in text_of(fake, USER, screen)
    message_id, data = fake.find_button(USER, "Confirm 3 numbers")
    first = fake.press(USER, data, message_id=message_id)
    second = fake.press(USER, data, message_id=message_id)  # a double tap places nothing twice
    await fake.wait_for(lambda: {first, second} <= fake.answered_callbacks())
    await fake.wait_for(lambda: sum("Waiting for the SMS" in c["text"] for c in cards(fake)) == 3, timeout=20)
    charged = purchases(tmp_path)
    assert [amount for amount, _ in charged] == [-59, -59, -59]
    assert len({reference for _, reference in charged}) == 3
    assert len({c["message_id"] for c in cards(fake)}) == 3 and cards(fake)[0]["message_id"] == message_id
    assert await e2e.ask_balance(fake) == "3.23 USD"
    assert len(purchases(tmp_path)) == 3


async def test_quantity_stops_at_the_open_orders_limit(
    fake: FakeTelegram, start_bot: e2e.StartBot, tmp_path: Path
) -> None:
    await start_bot(DEMO_SMS_DELAY_SECONDS=NO_CODE, MAX_ACTIVE_ORDERS_PER_USER="2")
    await e2e.topped_up_user(fake)
    await e2e.buy_whatsapp_us(fake)
    screen = fake.find_button(USER, "Confirm")[0]
    await press(fake, screen, "q:US:whatsapp:3")
    await fake.wait_for(lambda: "1.77 USD" in text_of(fake, USER, screen))
    await tap(fake, USER, "Confirm 3 numbers")
    await fake.wait_for(lambda: e2e.has_text(fake, USER, "2 of 3 numbers were placed"), timeout=20)
    assert e2e.has_text(fake, USER, "2 open orders, the most at once")
    assert len(purchases(tmp_path)) == 2
    assert await e2e.ask_balance(fake) == "3.82 USD"


async def test_orders_pages_through_the_history_and_filters_open(
    fake: FakeTelegram, start_bot: e2e.StartBot, tmp_path: Path
) -> None:
    await start_bot(DEMO_SMS_DELAY_SECONDS=NO_CODE, MAX_ACTIVE_ORDERS_PER_USER="50", PURCHASES_PER_MINUTE="50")
    await e2e.topped_up_user(fake, "10.00")
    placed = 0
    for qty in (5, 5, 2):  # 12 orders
        screen = await whatsapp_us_from_buy(fake)
        await press(fake, screen, f"q:US:whatsapp:{qty}")
        await fake.wait_for(lambda n=qty, at=screen: f"Confirm {n} numbers" in str(rows(message(fake, at))))
        await tap(fake, USER, f"Confirm {qty} numbers")
        placed += qty
        await fake.wait_for(
            lambda n=placed: sum("Waiting for the SMS" in c["text"] for c in cards(fake)) == n, timeout=30
        )
    for _ in range(3):
        await tap(fake, USER, "❌ Cancel")
    await fake.wait_for(lambda: sum("Cancelled" in c["text"] for c in cards(fake)) == 3, timeout=20)
    assert len(purchases(tmp_path)) == 12

    listing = await command(fake, "/orders", "page 1 of 2")
    shown = [b["text"] for row in rows(listing) for b in row if b["text"].startswith("#")]
    assert len(shown) == 10 and shown[0].endswith("· cancelled") and shown[3].endswith("· active")  # the newest first
    await tap(fake, USER, "▶️")
    listing_id = listing["message_id"]
    await fake.wait_for(lambda: "page 2 of 2" in text_of(fake, USER, listing_id))
    shown = [b["text"] for row in rows(message(fake, listing_id)) for b in row if b["text"].startswith("#")]
    assert len(shown) == 2

    await tap(fake, USER, "Open orders only")
    await fake.wait_for(lambda: "Your open orders" in text_of(fake, USER, listing_id))
    shown = [b["text"] for row in rows(message(fake, listing_id)) for b in row if b["text"].startswith("#")]
    assert len(shown) == 9 and all(s.endswith("· active") for s in shown)
    await tap(fake, USER, "All orders")
    await fake.wait_for(lambda: "page 1 of 2" in text_of(fake, USER, listing_id))
