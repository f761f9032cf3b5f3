"""End to end: the referral programme through the real bot process and the fake Bot API. An invited user's
purchase that got its code and was finished credits the inviter 5% once (0.59 USD: 0.02, rounded down), a
replayed Done credits nothing more, a cancelled purchase and a self-referral earn nothing, and /referral
and /audit show the bonus."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests import test_e2e as e2e
from tests.conftest import bot_rows
from tests.fakes.telegram import FakeTelegram

fake = e2e.fake
start_bot = e2e.start_bot
ADMIN, USER = e2e.ADMIN, e2e.USER
INVITER = 5151
pytestmark = pytest.mark.postgres


async def bonuses(tmp_path: Path) -> list[tuple[int, int, str, int]]:
    return await bot_rows(tmp_path, "SELECT user_id, amount, reference, order_id FROM ledger WHERE kind = 'referral'")


async def referrer_of(tmp_path: Path, user_id: int) -> int | None:
    return (await bot_rows(tmp_path, "SELECT referrer_id FROM users WHERE id = ?", user_id))[0][0]


async def answer_to(fake: FakeTelegram, user_id: int, text: str, needle: str) -> str:
    """Send ``text`` as ``user_id``; the first later message to them that contains ``needle``."""
    sent = len(fake.messages_to(user_id))
    fake.send_message(user_id, text)

    def found() -> str | None:
        return next((m["text"] for m in fake.messages_to(user_id)[sent:] if needle in m.get("text", "")), None)

    return await fake.wait_for(found)


async def start_invited(fake: FakeTelegram, user_id: int, inviter: int) -> None:
    """``/start r<inviter>``: the ordinary welcome with the main menu."""
    await answer_to(fake, user_id, f"/start r{inviter}", "Welcome")
    assert "Buy a number" in str(fake.messages_to(user_id)[-1].get("reply_markup"))


async def credit(fake: FakeTelegram, user_id: int) -> None:
    await answer_to(fake, ADMIN, f"/credit {user_id} 5.00 test top-up", "Credited")


async def buy_with_code(fake: FakeTelegram) -> int:
    """USER buys WhatsApp in the US and gets the code; the card's message id."""
    await e2e.buy_whatsapp_us(fake)
    card = await e2e.tap(fake, USER, "Confirm")
    await fake.wait_for(lambda: "Code received" in e2e.text_of(fake, USER, card), timeout=20)
    return card


async def test_a_finished_purchase_of_an_invitee_credits_the_inviter_once(
    fake: FakeTelegram, start_bot: e2e.StartBot, tmp_path: Path
) -> None:
    await start_bot()
    screen = await answer_to(fake, INVITER, "/referral", "Your link")
    assert f"https://t.me/{fake.bot_username}?start=r{INVITER}" in screen
    assert "0 people joined" in screen and "Earned: 0.00 USD" in screen
    await start_invited(fake, USER, INVITER)
    assert await referrer_of(tmp_path, USER) == INVITER
    await start_invited(fake, INVITER, USER)  # a loop: the inviter cannot become the invitee's invitee
    assert await referrer_of(tmp_path, INVITER) is None
    await credit(fake, USER)
    card = await buy_with_code(fake)
    assert await bonuses(tmp_path) == []  # a code, but not finished yet
    done_message, done = fake.find_button(USER, "Done")
    await e2e.tap(fake, USER, "Done")
    await fake.wait_for(lambda: "Completed" in e2e.text_of(fake, USER, card))
    (order_id,) = (await bot_rows(tmp_path, "SELECT id FROM orders WHERE user_id = ?", USER))[0]
    assert await bonuses(tmp_path) == [(INVITER, 2, f"referral:{order_id}", order_id)]
    for _ in range(2):  # the old Done again, and a few poll runs: no second bonus
        query_id = fake.press(USER, done, message_id=done_message)
        await fake.wait_for(lambda q=query_id: q in fake.answered_callbacks())
    await asyncio.sleep(2)
    assert await bonuses(tmp_path) == [(INVITER, 2, f"referral:{order_id}", order_id)]
    assert await bot_rows(tmp_path, "SELECT balance FROM users WHERE id = ?", INVITER) == [(2,)]
    screen = await answer_to(fake, INVITER, "/referral", "Your link")
    assert "1 person joined" in screen and "Earned: 0.02 USD from 1 purchase." in screen
    report = await answer_to(fake, ADMIN, "/audit", "Referral bonuses")
    assert "✅ ok" in report and "Referral bonuses: 0.02 USD (1)" in report
    assert await e2e.ask_balance(fake) == "4.41 USD"  # the buyer paid the price, no more


async def test_a_cancelled_purchase_earns_nothing(fake: FakeTelegram, start_bot: e2e.StartBot, tmp_path: Path) -> None:
    await start_bot(DEMO_SMS_DELAY_SECONDS="600")
    await answer_to(fake, INVITER, "/start", "Welcome")
    await start_invited(fake, USER, INVITER)
    assert await referrer_of(tmp_path, USER) == INVITER
    await credit(fake, USER)
    await e2e.buy_whatsapp_us(fake)
    await e2e.tap(fake, USER, "Confirm")
    await fake.wait_for(lambda: e2e.has_text(fake, USER, "Waiting for the SMS"))
    await e2e.tap(fake, USER, "Cancel")
    await fake.wait_for(lambda: e2e.has_text(fake, USER, "Cancelled, the price was refunded"))
    await asyncio.sleep(1.5)  # a few poll runs
    assert await bonuses(tmp_path) == []
    screen = await answer_to(fake, INVITER, "/referral", "Your link")
    assert "1 person joined" in screen and "Earned: 0.00 USD from 0 purchases." in screen


async def test_a_self_referral_earns_nothing(fake: FakeTelegram, start_bot: e2e.StartBot, tmp_path: Path) -> None:
    await start_bot()
    await start_invited(fake, USER, USER)
    assert await referrer_of(tmp_path, USER) is None
    await credit(fake, USER)
    card = await buy_with_code(fake)
    await e2e.tap(fake, USER, "Done")
    await fake.wait_for(lambda: "Completed" in e2e.text_of(fake, USER, card))
    assert await bonuses(tmp_path) == []
    screen = await answer_to(fake, USER, "/referral", "Your link")
    assert "0 people joined" in screen and "Earned: 0.00 USD from 0 purchases." in screen
