"""End to end: promo codes, a manual debit and the audit through the real bot process and the fake Bot API."""

from __future__ import annotations

import pytest

from tests import test_e2e as e2e
from tests.fakes.telegram import FakeTelegram
from tests.test_e2e import ADMIN, USER, StartBot, ask_balance, buy_whatsapp_us, code_messages, last_text, tap

fake = e2e.fake  # the shared fixtures: a fake Bot API and the bot process
start_bot = e2e.start_bot
pytestmark = pytest.mark.postgres


async def says(fake: FakeTelegram, user_id: int, text: str) -> str:
    """Send ``text`` as ``user_id`` and return the bot's next message to them."""
    sent = len(fake.messages_to(user_id))
    fake.send_message(user_id, text)
    await fake.wait_for(lambda: len(fake.messages_to(user_id)) > sent)
    return fake.messages_to(user_id)[sent].get("text", "")


async def test_promo_debit_and_audit(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot(DEMO_SMS_DELAY_SECONDS="1")
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))

    assert "administrators" in await says(fake, USER, "/promo_new FREE 100 1")
    assert "Usage" in await says(fake, ADMIN, "/promo_new spring lots 5")
    created = await says(fake, ADMIN, "/promo_new spring 2.50 5 7")
    assert "Promo code created" in created and "SPRING" in created and "2.50 USD" in created
    assert "already exists" in await says(fake, ADMIN, "/promo_new Spring 1 1")

    assert "2.50 USD added" in await says(fake, USER, "/promo spring")
    assert "already used" in await says(fake, USER, "/promo SPRING")
    assert "Usage" in await says(fake, USER, "/promo")
    assert "no promo code NOPE" in await says(fake, USER, "/promo nope")
    assert await ask_balance(fake) == "2.50 USD"
    listed = await says(fake, ADMIN, "/promo_list")
    assert "SPRING" in listed and "used 1/5" in listed

    assert "administrators" in await says(fake, USER, f"/debit {USER} 1")
    refused = await says(fake, ADMIN, f"/debit {USER} 5.00 too much")
    assert "only 2.50 USD" in refused and "nothing was debited" in refused
    assert await ask_balance(fake) == "2.50 USD"
    debited = await says(fake, ADMIN, f"/debit {USER} 1.00 correction")
    assert "Debited 1.00 USD" in debited and "New balance: 1.50 USD" in debited
    await fake.wait_for(lambda: "reduced by 1.00 USD" in last_text(fake, USER))
    assert await ask_balance(fake) == "1.50 USD"

    await buy_whatsapp_us(fake)
    await tap(fake, USER, "Confirm")
    await fake.wait_for(lambda: code_messages(fake), timeout=20)

    assert "administrators" in await says(fake, USER, "/audit")
    report = await says(fake, ADMIN, "/audit")
    assert report.startswith("✅ ok"), report
    assert "Revenue: 0.59 USD from 1 orders" in report
    assert "Upstream cost: 0.45 USD" in report and "Margin: 0.14 USD" in report
    assert "Top-ups: 2.50 USD" in report and "Refunds: 0.00 USD (0)" in report
    assert "Usage" in await says(fake, ADMIN, "/audit soon")
