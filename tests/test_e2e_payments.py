"""End to end: Stars top-ups and admin refunds through the real bot process and the fake Bot API."""

from __future__ import annotations

import pytest

from tests import test_e2e as e2e
from tests.botproc import BotProcess
from tests.fakes.telegram import FakeTelegram
from tests.test_e2e import ADMIN, USER, StartBot, ask_balance, last_text, tap

fake = e2e.fake  # the shared fixtures: a fake Bot API and the bot process
start_bot = e2e.start_bot
pytestmark = pytest.mark.postgres


def receipts(fake: FakeTelegram) -> list[str]:
    return [m["text"] for m in fake.messages_to(USER) if m.get("text", "").startswith("✅ Topped up")]


async def paid(fake: FakeTelegram, charge: str, stars: int = 100) -> None:
    before = len(receipts(fake))
    fake.successful_payment(USER, f"stars:{stars}", stars, charge)
    await fake.wait_for(lambda: len(receipts(fake)) > before)


async def admin_says(fake: FakeTelegram, text: str) -> str:
    sent = len(fake.messages_to(ADMIN))
    fake.send_message(ADMIN, text)
    await fake.wait_for(lambda: len(fake.messages_to(ADMIN)) > sent)
    return last_text(fake, ADMIN)


async def test_topup_invoice_pre_checkout_and_receipt(fake: FakeTelegram, start_bot: StartBot) -> None:
    proc: BotProcess = await start_bot()
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    assert await ask_balance(fake) == "0.00 USD"
    await tap(fake, USER, "Top up")  # the button on the balance screen
    assert "Telegram Stars" in last_text(fake, USER)
    await tap(fake, USER, "⭐ 100 → 1.00 USD")
    invoice = (await fake.wait_for(lambda: fake.calls_of("sendInvoice")))[0].params
    assert invoice["currency"] == "XTR" and invoice["payload"] == "stars:100"
    assert [p["amount"] for p in invoice["prices"]] == [100] and invoice.get("provider_token", "") == ""
    assert fake.messages_to(USER)[-1]["invoice"]["total_amount"] == 100

    good = fake.pre_checkout(USER, "stars:100", 100)
    bad = fake.pre_checkout(USER, "stars:100", 1)
    await fake.wait_for(lambda: {good, bad} <= set(fake.pre_checkout_answers))
    assert fake.pre_checkout_answers[good]["ok"] is True
    assert fake.pre_checkout_answers[bad]["ok"] is False and fake.pre_checkout_answers[bad]["error_message"]

    await paid(fake, "charge-1")
    assert receipts(fake) == ["✅ Topped up 1.00 USD. Balance: 1.00 USD."]
    fake.successful_payment(USER, "stars:100", 100, "charge-1")  # the same update again
    await fake.wait_for(lambda: "stars payment charge-1 replayed" in proc.output())
    assert len(receipts(fake)) == 1 and await ask_balance(fake) == "1.00 USD"

    fake.successful_payment(USER, "stars:100", 5, "charge-forged")  # amount does not match the package
    await fake.wait_for(lambda: "NOT credited" in last_text(fake, ADMIN))
    assert "charge-forged" in last_text(fake, ADMIN) and await ask_balance(fake) == "1.00 USD"


async def test_topup_command_lists_packages(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot(STAR_PACKAGES="10,500", STAR_RATE="2")
    fake.send_message(USER, "/topup")
    await fake.wait_for(lambda: "Telegram Stars" in last_text(fake, USER))
    buttons = [b["text"] for row in fake.messages_to(USER)[-1]["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons[:2] == ["⭐ 10 → 0.20 USD", "⭐ 500 → 10.00 USD"]
    fake.pre_checkout(USER, "stars:100", 100)  # not a configured package any more
    await fake.wait_for(lambda: fake.pre_checkout_answers)
    assert next(iter(fake.pre_checkout_answers.values()))["ok"] is False


async def test_admin_refund_stars(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    await paid(fake, "charge-1")
    await paid(fake, "charge-2", 250)
    assert await ask_balance(fake) == "3.50 USD"

    fake.send_message(USER, "/refund_stars charge-1")  # not an admin
    await fake.wait_for(lambda: "administrators" in last_text(fake, USER))
    assert fake.calls_of("refundStarPayment") == []

    assert "Refunded" in await admin_says(fake, "/refund_stars charge-1")
    assert fake.refunded == {"charge-1"} and await ask_balance(fake) == "2.50 USD"
    assert "already refunded" in await admin_says(fake, "/refund_stars charge-1")
    assert len(fake.calls_of("refundStarPayment")) == 1

    fake.inject_error("refundStarPayment", error_code=400, description="Bad Request: REFUND_FAILED")
    assert "reversed" in await admin_says(fake, "/refund_stars charge-2")
    assert fake.refunded == {"charge-1"} and await ask_balance(fake) == "2.50 USD"
    assert "Usage" in await admin_says(fake, "/refund_stars")


async def test_rejected_payment_is_kept_and_refunded(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot(STAR_PACKAGES="50,250")
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    await paid(fake, "charge-ok", 250)
    # the invoice was for a package the operator has since removed: Telegram took the Stars all the same
    fake.successful_payment(USER, "stars:100", 100, "charge-gone")
    await fake.wait_for(lambda: "not added to your balance" in last_text(fake, USER))
    assert "will refund" in last_text(fake, USER)
    admin_note = next(m["text"] for m in fake.messages_to(ADMIN) if "charge-gone" in m.get("text", ""))
    assert "NOT credited" in admin_note and str(USER) in admin_note
    assert await ask_balance(fake) == "2.50 USD"

    reply = await admin_says(fake, "/refund_stars charge-gone")
    assert "Refunded" in reply and "nothing was debited" in reply
    assert fake.refunded == {"charge-gone"} and await ask_balance(fake) == "2.50 USD"
    await fake.wait_for(lambda: any("never added" in m.get("text", "") for m in fake.messages_to(USER)))
    assert "already refunded" in await admin_says(fake, "/refund_stars charge-gone")
    assert len(fake.calls_of("refundStarPayment")) == 1
