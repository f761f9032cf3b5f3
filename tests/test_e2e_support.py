"""End to end: /paysupport reaches the admin with the user's id, orders and Stars charge ids, the admin's reply
reaches the user; /terms answers with the built-in terms, or TERMS_TEXT / TERMS_FILE when set."""

from __future__ import annotations

from pathlib import Path

from tests import test_e2e as e2e
from tests.fakes.telegram import FakeTelegram
from tests.test_e2e import ADMIN, USER, StartBot, code_messages, last_text, tap

fake = e2e.fake  # the shared fixtures: a fake Bot API and the bot process
start_bot = e2e.start_bot


async def says(fake: FakeTelegram, user_id: int, text: str, **kwargs: object) -> str:
    """Send ``text`` as ``user_id`` and return the bot's next message to them."""
    sent = len(fake.messages_to(user_id))
    fake.send_message(user_id, text, **kwargs)  # type: ignore[arg-type]
    await fake.wait_for(lambda: len(fake.messages_to(user_id)) > sent)
    return fake.messages_to(user_id)[sent].get("text", "")


async def test_paysupport_reaches_the_admin_and_the_reply_reaches_the_user(
    fake: FakeTelegram, start_bot: StartBot
) -> None:
    await start_bot(DEMO_SMS_DELAY_SECONDS="1")
    fake.send_message(ADMIN, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, ADMIN))
    fake.send_message(USER, "/start", username="buyer")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    # a Stars top-up and a purchase, for the admin to see
    fake.pre_checkout(USER, "stars:50", 50)
    fake.successful_payment(USER, "stars:50", 50, "charge-abc-123")
    await fake.wait_for(lambda: "0.50 USD" in last_text(fake, USER))
    fake.send_message(ADMIN, f"/credit {USER} 5.00 test")
    await fake.wait_for(lambda: "Credited" in last_text(fake, ADMIN))
    await e2e.buy_whatsapp_us(fake)
    await tap(fake, USER, "Confirm")
    await fake.wait_for(lambda: code_messages(fake), timeout=20)

    intro = await says(fake, USER, "/paysupport")
    assert "No code, no charge" in intro and "Stars" in intro and "/cancel" in intro
    assert "in words" in await says(fake, USER, "   ")  # nothing to read: asked again, still waiting
    admin_before = len(fake.messages_to(ADMIN))
    sent = await says(fake, USER, "My <b>stars</b> payment & refund?", username="buyer")
    assert "sent to support" in sent

    forwarded = fake.messages_to(ADMIN)[admin_before:]
    assert len(forwarded) == 1, forwarded
    text = forwarded[0]["text"]
    assert f"id {USER}" in text and "@buyer" in text
    assert "#1 · WhatsApp" in text and "0.59 USD" in text
    assert "charge-abc-123" in text and "50 ⭐" in text
    assert "My <b>stars</b> payment & refund?" in text  # the user's words, escaped, as written
    assert "Balance: 4.91 USD" in text

    # an ordinary admin message still reaches the admin screens, a command replying to it too
    assert "Usage" in await says(fake, ADMIN, "/credit nobody lots", reply_to=forwarded[0]["message_id"])
    user_before = len(fake.messages_to(USER))
    told = await says(fake, ADMIN, "Refunded, see your balance.", reply_to=forwarded[0]["message_id"])
    assert "Delivered" in told
    answer = fake.messages_to(USER)[user_before:]
    assert len(answer) == 1 and "Support replied" in answer[0]["text"]
    assert "Refunded, see your balance." in answer[0]["text"]

    fake.block_user(USER)
    assert "blocked the bot" in await says(fake, ADMIN, "Anything else?", reply_to=forwarded[0]["message_id"])
    fake.unblock_user(USER)


async def test_paysupport_cancel_commands_and_the_hourly_limit(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    await says(fake, USER, "/paysupport")
    assert "nothing was sent" in await says(fake, USER, "/cancel")
    await says(fake, USER, "/paysupport")
    assert "Your balance" in await says(fake, USER, "/balance")  # another command leaves the form
    sent = len(fake.messages_to(USER))
    fake.send_sticker(USER)  # outside the form: not for support
    await fake.wait_for(lambda: len(fake.messages_to(USER)) > sent)
    for number in range(3):
        await says(fake, USER, "/paysupport")
        assert "sent to support" in await says(fake, USER, f"question {number}")
    assert "3 times in the last hour" in await says(fake, USER, "/paysupport")
    assert sum("question" in m.get("text", "") for m in fake.messages_to(ADMIN)) == 3


async def test_paysupport_sticker_is_refused(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    await says(fake, USER, "/paysupport")
    sent = len(fake.messages_to(USER))
    fake.send_sticker(USER)
    await fake.wait_for(lambda: len(fake.messages_to(USER)) > sent)
    assert "sticker" in last_text(fake, USER)
    assert not fake.messages_to(ADMIN)


async def test_terms_default_and_operator_text(fake: FakeTelegram, start_bot: StartBot, tmp_path: Path) -> None:
    bot = await start_bot(WRITE_OFF_LIMIT_PER_DAY="2")
    terms = await says(fake, USER, "/terms")
    assert "Terms and refunds" in terms and "no code, no charge" in terms
    assert "up to 2 numbers a day" in terms and "Rentals" in terms and "Telegram Stars" in terms
    screen = await tap(fake, USER, "Payment support")  # the terms' button opens /paysupport in place
    assert "Send your message now" in e2e.text_of(fake, USER, screen)
    assert "nothing was sent" in await says(fake, USER, "/cancel")
    await bot.stop()

    bot = await start_bot(TERMS_TEXT="<b>Our terms</b>: all sales final & fair.")
    assert await says(fake, USER, "/terms") == "Our terms: all sales final & fair."
    await bot.stop()

    long_terms = tmp_path / "terms.html"
    long_terms.write_text("<b>Long terms</b>\n" + "\n".join(f"<i>Clause {n}</i>: " + "x" * 90 for n in range(100)))
    await start_bot(TERMS_FILE=str(long_terms))
    before = len(fake.messages_to(USER))
    fake.send_message(USER, "/terms")
    await fake.wait_for(lambda: any("Clause 99" in m.get("text", "") for m in fake.messages_to(USER)))
    parts = fake.messages_to(USER)[before:]
    assert len(parts) == 3 and parts[0]["text"].startswith("Long terms")
    assert all(len(p["text"]) <= 4096 for p in parts)
    assert "reply_markup" in parts[-1]


async def test_messages_sent_together_reach_the_admins_once(fake: FakeTelegram, start_bot: StartBot) -> None:
    """An album or a quick double send while /paysupport waits: one message is taken, not one per part."""
    await start_bot()
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    await says(fake, USER, "/paysupport")
    admin_before = len(fake.messages_to(ADMIN))
    for part in ("first part", "second part", "third part"):
        fake.send_message(USER, part)  # queued together: the bot handles them concurrently
    await fake.wait_for(lambda: any("sent to support" in m.get("text", "") for m in fake.messages_to(USER)))
    fake.send_message(USER, "/balance")  # a later update: everything before it was handled
    await fake.wait_for(lambda: "Your balance" in last_text(fake, USER))
    forwarded = [m for m in fake.messages_to(ADMIN)[admin_before:] if "part" in m.get("text", "")]
    assert len(forwarded) == 1, forwarded
