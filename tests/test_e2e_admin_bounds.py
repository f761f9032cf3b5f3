"""End to end (#9): absurd amounts, codes and names typed by an admin are refused with the usage line,
change nothing, and the user's balance, card and everyone's /audit keep working."""

from __future__ import annotations

import pytest

from tests import test_e2e as e2e
from tests.fakes.telegram import FakeTelegram
from tests.test_e2e import ADMIN, USER, StartBot, ask_balance, last_text, tap, topped_up_user
from tests.test_e2e_admin_money import says

pytestmark = pytest.mark.postgres  # money bounds are the schema's and the services' on both backends

fake = e2e.fake  # the shared fixtures: a fake Bot API and the bot process
start_bot = e2e.start_bot

ABSURD = ["92233720368547758", "1e308", "1e3", "-5", "0.001", "nan", "inf", "0", "1000000.01"]
RULE = "at most 1000000.00 USD"  # MAX_AMOUNT's default in USD
# a fast admin is not the flood this test is about (the per-user flood control, where there is one)
CALM = {"USER_UPDATES_PER_SECOND": "1000", "USER_UPDATES_BURST": "10000"}


async def test_absurd_amounts_are_refused_and_the_books_still_read(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot(**CALM)
    await topped_up_user(fake)  # 5.00 USD by /credit

    for command in ("credit", "debit"):
        for amount in ABSURD:
            reply = await says(fake, ADMIN, f"/{command} {USER} {amount} test")
            assert reply.startswith(f"Usage: /{command}") and RULE in reply, (amount, reply)
    assert "Usage" in await says(fake, ADMIN, "/credit 99999999999999999999999 5.00")
    assert await ask_balance(fake) == "5.00 USD"

    for args in [f"ABSURD {amount} 5" for amount in ABSURD] + [
        "ABSURD 1.00 0",
        "ABSURD 1.00 1000001",
        "ABSURD 1.00 1e3",
        "ABSURD 1.00 5 0",
        "ABSURD 1.00 5 3651",
        "ABSURD 1.00 5 -1",
    ]:
        reply = await says(fake, ADMIN, f"/promo_new {args}")
        assert reply.startswith("Usage: /promo_new") and RULE in reply, (args, reply)
    assert "No promo codes yet" in await says(fake, ADMIN, "/promo_list")

    for args in [f"whatsapp US {amount}" for amount in ABSURD] + [
        f"{'x' * 300} US 0.99",
        "whats.app US 0.99",
        "whatsapp ZZ 0.99",
        f"whatsapp {'X' * 300} 0.99",
    ]:
        reply = await says(fake, ADMIN, f"/price {args}")
        assert reply.startswith("Usage: /price") and RULE in reply, (args[:40], reply)
    for percent in ("1e3", "nan", "inf", "1001", "-1", "12.345"):
        assert "Usage: /markup" in await says(fake, ADMIN, f"/markup {percent}"), percent
    assert "Markup set to 12.5%" in await says(fake, ADMIN, "/markup 12.50")
    screen = await says(fake, ADMIN, "/admin")
    assert "Admin panel" in screen
    prices = await tap(fake, ADMIN, "Prices")
    assert "Markup: 12.5%" in last_text(fake, ADMIN) and "none" in last_text(fake, ADMIN), prices

    # the panel: /user, Credit, then the amount as the next message
    fake.send_message(ADMIN, f"/user {USER}")
    await fake.wait_for(lambda: "Balance: 5.00 USD" in last_text(fake, ADMIN))
    await tap(fake, ADMIN, "Credit")
    assert RULE in last_text(fake, ADMIN)
    for amount in ABSURD:
        reply = await says(fake, ADMIN, f"{amount} goodwill")
        assert reply.startswith("Send an amount and a reason") and RULE in reply, (amount, reply)
    fake.send_message(ADMIN, "2.50 goodwill")
    await fake.wait_for(lambda: "Balance: 7.50 USD" in last_text(fake, ADMIN))

    assert await ask_balance(fake) == "7.50 USD"
    card = await says(fake, ADMIN, f"/user {USER}")
    assert "Balance: 7.50 USD" in card
    assert "No user matches" in await says(fake, ADMIN, f"/user {'9' * 30}")
    report = await says(fake, ADMIN, "/audit")
    assert report.startswith("✅ ok"), report
    assert "Top-ups: 7.50 USD" in report
