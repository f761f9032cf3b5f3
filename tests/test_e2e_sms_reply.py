"""End to end: Reply by SMS from a rented smscartesim number (its fake served on the loopback, the real
bot process, the fake Bot API, ``OUTBOUND_SMS_PRICE`` 0.10 USD). A reply is charged once (the ledger
says so), a link is refused with no charge, an upstream refusal is refunded, and the fourth message
from one number is refused before anything is charged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import bot_process, bot_rows
from tests.fakes.serve import serve
from tests.fakes.smscartesim import FakeSmsCartesim
from tests.fakes.telegram import FakeTelegram
from tests.test_e2e import ADMIN, TOKEN, USER, ask_balance, has_text, last_text, tap, text_of

KEY = "sk_e2e_sms_reply"
pytestmark = pytest.mark.postgres
SENDER = "+12025550100"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def upstream(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[FakeSmsCartesim]:
    cartesim = FakeSmsCartesim(api_key=KEY)
    cartesim.rentals[("wa", "us")] = 7  # WhatsApp in the US is sold as a 7-day rental
    async with serve(cartesim, "/api/v1") as url:
        proc = bot_process(
            fake,
            tmp_path,
            ADMIN_IDS=str(ADMIN),
            DEMO_PROVIDER="off",
            SMSCARTESIM_API_KEY=KEY,
            SMSCARTESIM_BASE_URL=url,
            OUTBOUND_SMS_PRICE="0.10",
            POLL_INTERVAL_SECONDS="0.5",
            MARKUP_PERCENT="30",
            USER_UPDATES_PER_SECOND="1000",  # one test user taps fast; flood control has its own tests
            USER_UPDATES_BURST="10000",
        )
        await proc.start()
        try:
            await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=60)
            yield cartesim
        finally:
            await proc.stop()
        assert "Traceback" not in proc.output(), proc.output()[-3000:]
        assert KEY not in proc.output() and TOKEN not in proc.output()


async def sms_ledger(tmp_path: Path) -> list[tuple[int, str]]:
    rows = await bot_rows(
        tmp_path, "SELECT amount, kind FROM ledger WHERE user_id = ? AND kind LIKE 'outbound_sms%' ORDER BY id", USER
    )
    return [(int(amount), str(kind)) for amount, kind in rows]  # type: ignore[call-overload]


async def kept(tmp_path: Path) -> list[tuple[object, ...]]:
    return await bot_rows(tmp_path, "SELECT recipient, text, status FROM outbound_sms ORDER BY id")


def alerts(fake: FakeTelegram) -> list[str]:
    return [str(c.params.get("text") or "") for c in fake.calls_of("answerCallbackQuery")]


async def write(fake: FakeTelegram, text: str) -> None:
    """Tap ✉️ Reply by SMS on the card, then send ``text`` as the reply."""
    await tap(fake, USER, "Reply by SMS")
    await fake.wait_for(lambda: "Reply by SMS from" in last_text(fake, USER))
    sent = len(fake.messages_to(USER))
    fake.send_message(USER, text)
    await fake.wait_for(lambda: len(fake.messages_to(USER)) > sent)


SENDS: list[tuple[int, str]] = []  # (preview message id, Send's callback data), newest last


async def send_reply(fake: FakeTelegram, text: str) -> str:
    """Write ``text``, tap Send on its preview; what the preview became."""
    await write(fake, text)
    assert "Send this SMS to" in last_text(fake, USER), last_text(fake, USER)
    SENDS.append(fake.find_button(USER, "Send ·"))
    preview = await tap(fake, USER, "Send ·")
    await fake.wait_for(lambda: "Send this SMS" not in text_of(fake, USER, preview))
    return text_of(fake, USER, preview)


async def test_reply_by_sms_charges_once_refuses_links_refunds_and_stops_at_the_limit(
    fake: FakeTelegram, upstream: FakeSmsCartesim, tmp_path: Path
) -> None:
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    fake.send_message(ADMIN, f"/credit {USER} 5.00 test")
    await fake.wait_for(lambda: "Credited" in last_text(fake, ADMIN))
    fake.send_message(USER, "/buy")
    await fake.wait_for(lambda: "country" in last_text(fake, USER))
    await tap(fake, USER, "United States")
    await tap(fake, USER, "WhatsApp · 7 days")
    card = await tap(fake, USER, "Confirm, not refundable")
    await fake.wait_for(lambda: "Waiting for the SMS" in text_of(fake, USER, card))
    assert await ask_balance(fake) == "4.54 USD"  # the rental: 0.35 USD + 30 %

    [order_id] = upstream.orders
    upstream.add_sms(order_id, "Hi, is this the shop?", sender=SENDER)
    await fake.wait_for(lambda: has_text(fake, USER, "is this the shop?"), timeout=15)

    # a link: refused, nothing charged, nothing sent
    await write(fake, "see www.example.com")
    assert "Links are not allowed" in last_text(fake, USER)
    assert await sms_ledger(tmp_path) == [] and not upstream.messages
    fake.send_message(USER, "/cancel")
    await fake.wait_for(lambda: "No SMS was sent" in last_text(fake, USER))

    # a reply: sent to the number that texted, charged once
    outcome = await send_reply(fake, "Yes, hello!")
    assert f"SMS sent to {SENDER}" in outcome
    assert [(m["from"], m["to"], m["text"]) for m in upstream.messages] == [
        (upstream.orders[order_id].phone, SENDER, "Yes, hello!")
    ]
    assert await sms_ledger(tmp_path) == [(-10, "outbound_sms")]
    preview, send = SENDS[-1]
    again = fake.press(USER, send, message_id=preview)  # the same Send tapped again: nothing more
    await fake.wait_for(lambda: again in fake.answered_callbacks())
    assert any("outdated" in a for a in alerts(fake))
    assert len(upstream.messages) == 1 and await sms_ledger(tmp_path) == [(-10, "outbound_sms")]
    assert await ask_balance(fake) == "4.44 USD"

    # the upstream refuses (its balance is out): refunded
    balance = upstream.balance
    upstream.balance = upstream.sms_price / 2
    outcome = await send_reply(fake, "Second try")
    assert "refused" in outcome and "refunded" in outcome
    assert (await sms_ledger(tmp_path))[-2:] == [(-10, "outbound_sms"), (10, "outbound_sms_refund")]
    assert await ask_balance(fake) == "4.44 USD"
    upstream.balance = balance

    # two more fill the order's three; the fourth is refused before any charge
    for text in ("Third", "Fourth"):
        assert "SMS sent" in await send_reply(fake, text)
    charged = await sms_ledger(tmp_path)
    await tap(fake, USER, "Reply by SMS")
    await fake.wait_for(lambda: any("At most 3 SMS" in a for a in alerts(fake)))
    assert await sms_ledger(tmp_path) == charged and len(upstream.messages) == 3
    assert await ask_balance(fake) == "4.24 USD"
    assert [status for _, _, status in await kept(tmp_path)] == ["sent", "refused", "sent", "sent"]
