"""End to end: the operator's panel through the real bot process and the fake Bot API."""

from __future__ import annotations

import asyncio

from tests import test_e2e as e2e
from tests.fakes.telegram import FakeTelegram
from tests.test_e2e import ADMIN, USER, StartBot, has_text, last_text, tap, text_of, topped_up_user

fake = e2e.fake  # the shared fixtures: a fake Bot API and the bot process
start_bot = e2e.start_bot

BANNED = "You are banned from this bot."


async def test_admin_menu_only_for_admins_and_stats_show_numbers(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot(DEMO_SMS_DELAY_SECONDS="1")
    await topped_up_user(fake)
    fake.send_message(USER, "/admin")
    await fake.wait_for(lambda: "How it works" in last_text(fake, USER))
    assert "Admin panel" not in str(fake.messages_to(USER))

    await tap(fake, USER, "Buy a number")
    await tap(fake, USER, "United States")
    await tap(fake, USER, "WhatsApp")
    card = await tap(fake, USER, "Confirm")
    await fake.wait_for(lambda: "Code received" in text_of(fake, USER, card), timeout=15)

    fake.send_message(ADMIN, "/admin")
    await fake.wait_for(lambda: "Admin panel" in last_text(fake, ADMIN))
    labels = [b["text"] for row in fake.messages_to(ADMIN)[-1]["reply_markup"]["inline_keyboard"] for b in row]
    assert [label.split(" ", 1)[1] for label in labels] == ["Stats", "Users", "Upstreams", "Prices"]
    screen = await tap(fake, ADMIN, "Stats")
    stats = text_of(fake, ADMIN, screen)
    assert "Users: 2 · active 24 h: 2" in stats, stats
    assert "code received: 1 / 1 / 1" in stats
    assert "Revenue: 0.59 USD / 0.59 USD / 0.59 USD" in stats
    assert "Upstream cost: 0.45 USD" in stats and "Margin: 0.14 USD" in stats
    assert "demo: 1/1 with a code (100%) · median" in stats

    screen = await tap(fake, ADMIN, "Admin menu")
    screen = await tap(fake, ADMIN, "Upstreams")
    assert "demo" in text_of(fake, ADMIN, screen) and "breaker closed" in text_of(fake, ADMIN, screen)


async def test_user_lookup_credit_and_ban(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    fake.send_message(USER, "/start", username="alice")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    fake.send_message(ADMIN, "/user @Alice")
    await fake.wait_for(lambda: "Balance: 0.00 USD" in last_text(fake, ADMIN))
    assert str(USER) in last_text(fake, ADMIN) and "Banned: no" in last_text(fake, ADMIN)

    await tap(fake, ADMIN, "Credit")
    fake.send_message(ADMIN, "2.50 goodwill")
    await fake.wait_for(lambda: "Balance: 2.50 USD" in last_text(fake, ADMIN))
    assert has_text(fake, USER, "topped up by 2.50 USD")

    await tap(fake, ADMIN, "Ban")
    await fake.wait_for(lambda: "Banned: yes" in last_text(fake, ADMIN))
    before = len(fake.messages_to(USER))
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: last_text(fake, USER) == BANNED)
    message_id, data = fake.find_button(USER, "Balance")
    query = fake.press(USER, data, message_id=message_id)
    await fake.wait_for(lambda: query in fake.answered_callbacks())
    await asyncio.sleep(0.5)
    assert len(fake.messages_to(USER)) == before + 1  # the one line, nothing else
    answer = fake.calls_of("answerCallbackQuery")[-1].params
    assert answer["callback_query_id"] == query and answer["text"] == BANNED

    await tap(fake, ADMIN, "Unban")
    await fake.wait_for(lambda: "Banned: no" in last_text(fake, ADMIN))
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))


async def test_price_override_changes_the_buy_flow(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    fake.send_message(ADMIN, "/price whatsapp US 0.99")
    await fake.wait_for(lambda: "now sells at 0.99 USD" in last_text(fake, ADMIN))
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    await tap(fake, USER, "Buy a number")
    await tap(fake, USER, "United States")
    screen = await tap(fake, USER, "WhatsApp")
    assert "Price: 0.99 USD" in text_of(fake, USER, screen)

    fake.send_message(ADMIN, "/price whatsapp US off")
    await fake.wait_for(lambda: "removed" in last_text(fake, ADMIN))
    fake.send_message(ADMIN, "/markup 100")
    await fake.wait_for(lambda: "Markup set to 100%" in last_text(fake, ADMIN))
    await tap(fake, USER, "Back")
    screen = await tap(fake, USER, "WhatsApp")
    assert "Price: 0.90 USD" in text_of(fake, USER, screen)
