"""End to end: a buyer at an upstream with no cancel endpoint (SimSmsBox over its fake, served on the
loopback). Cancelling is refunded until the daily write-off limit, then the confirmation screen says the
number is not refundable before anything is charged, and the card offers no Cancel; rentals say so too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import bot_process
from tests.fakes.serve import serve
from tests.fakes.simsmsbox import FakeSimSmsBox
from tests.fakes.telegram import FakeTelegram
from tests.test_e2e import ADMIN, TOKEN, USER, ask_balance, has_text, last_text, tap, text_of

KEY = "psk_e2e_write_offs"
pytestmark = pytest.mark.postgres


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[FakeSimSmsBox]:
    box = FakeSimSmsBox(api_key=KEY)
    box.balance = box.balance * 10  # enough at the upstream for a 7-day rental
    async with serve(box) as url:
        proc = bot_process(
            fake,
            tmp_path,
            ADMIN_IDS=str(ADMIN),
            DEMO_PROVIDER="off",
            SIMSMSBOX_API_KEY=KEY,
            SIMSMSBOX_BASE_URL=url,
            POLL_INTERVAL_SECONDS="0.5",
            MARKUP_PERCENT="30",
            WRITE_OFF_LIMIT_PER_DAY="1",
            USER_UPDATES_PER_SECOND="1000",  # one test user taps fast; flood control has its own tests
            USER_UPDATES_BURST="10000",
        )
        await proc.start()
        try:
            await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=60)
            yield box
        finally:
            await proc.stop()
        assert "Traceback" not in proc.output(), proc.output()[-3000:]
        assert KEY not in proc.output() and TOKEN not in proc.output()


async def _to_confirm(fake: FakeTelegram, service: str = "WhatsApp") -> str:
    sent = len(fake.messages_to(USER))
    fake.send_message(USER, "/buy")
    await fake.wait_for(lambda: len(fake.messages_to(USER)) > sent and "country" in last_text(fake, USER))
    await tap(fake, USER, "United States")
    screen = await tap(fake, USER, service)
    return text_of(fake, USER, screen)


async def test_refunds_stop_at_the_limit_and_the_screen_says_so(fake: FakeTelegram, bot: FakeSimSmsBox) -> None:
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    fake.send_message(ADMIN, f"/credit {USER} 10.00 test")
    await fake.wait_for(lambda: "Credited" in last_text(fake, ADMIN))

    screen = await _to_confirm(fake)
    assert "Price: 1.95 USD" in screen and "You pay only if a code arrives" in screen
    card = await tap(fake, USER, "Confirm")
    await fake.wait_for(lambda: "Waiting for the SMS" in text_of(fake, USER, card))
    await tap(fake, USER, "Cancel")
    await fake.wait_for(lambda: has_text(fake, USER, "Cancelled, the price was refunded"))
    assert await ask_balance(fake) == "10.00 USD"

    screen = await _to_confirm(fake)
    assert "Not refundable" in screen and "You pay only if a code arrives" not in screen
    card = await tap(fake, USER, "Confirm, not refundable")
    await fake.wait_for(lambda: "Waiting for the SMS" in text_of(fake, USER, card))
    assert "not refundable" in text_of(fake, USER, card)
    shown = next(m for m in fake.messages_to(USER) if m["message_id"] == card)
    assert "Cancel" not in str(shown.get("reply_markup"))
    assert await ask_balance(fake) == "8.05 USD"
    assert sum(r.path == "/api/sms/orders/purchase" for r in bot.requests) == 2


async def test_a_rental_says_it_is_not_refundable_before_confirm(fake: FakeTelegram, bot: FakeSimSmsBox) -> None:
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    fake.send_message(ADMIN, f"/credit {USER} 30.00 test")
    await fake.wait_for(lambda: "Credited" in last_text(fake, ADMIN))
    screen = await _to_confirm(fake, "WhatsApp · 7 days")
    assert "this rental is paid once the number is delivered" in screen
    card = await tap(fake, USER, "Confirm, not refundable")
    await fake.wait_for(lambda: "Waiting for the SMS" in text_of(fake, USER, card))
    shown = next(m for m in fake.messages_to(USER) if m["message_id"] == card)
    assert "Cancel" not in str(shown.get("reply_markup"))
    screen = await tap(fake, USER, "Renew +7 days")
    assert "not refunded once the supplier confirms" in text_of(fake, USER, screen)
    await tap(fake, USER, "Confirm renewal")
    await fake.wait_for(lambda: any(r.path.endswith("/renew") for r in bot.requests))
    assert await ask_balance(fake) == "2.70 USD"  # 30.00 - 2 x 13.65: the rental and its renewal, both kept
