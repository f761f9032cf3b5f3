"""Texts from upstreams are bounded before they reach Telegram, and a message Telegram refuses as too
long is never retried as is: through the poll job, the real Notifier and the strict fake Bot API
(which refuses more than 4096 characters after parsing)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from storage import orders as q
from tests.fakes import telegram_objects as tg
from tests.inprocess import LiveBot, live_bot

USER = 4242

pytestmark = pytest.mark.postgres  # the in-process bot runs on the test's backend
TOO_LONG = "Bad Request: message is too long"


def pushed(live: LiveBot) -> list[str]:
    """The messages pushed for SMS (not the order card, which quotes them too)."""
    heads = ("WhatsApp code:", "New SMS for WhatsApp")
    return [m["text"] for m in live.fake.messages_to(USER) if m.get("text", "").startswith(heads)]


async def sms_rows(live: LiveBot) -> list[q.OrderSms]:
    async with live.db.read() as conn:
        return await q.sms_of(conn, 1)


async def poll_until_quiet(live: LiveBot, cycles: int = 3) -> None:
    for _ in range(cycles):
        await live.dp["jobs"].poll()


@pytest.mark.parametrize("letters", [4000, 6000])
async def test_an_upstream_code_of_thousands_of_letters_is_delivered_once_within_the_limit(
    tmp_path: Path, letters: int
) -> None:
    async with live_bot(tmp_path) as live:
        card = await live.buy_whatsapp_us(USER)
        activation = next(iter(live.upstream.activations))
        live.upstream.deliver_code(activation, "a" * letters)  # STATUS_OK:aaaa…: an SMS with no digits
        await live.dp["jobs"].poll()
        assert len(pushed(live)) == 1
        text = pushed(live)[0]
        assert text.startswith("New SMS for WhatsApp\nNumber: +628101000001 (order #1)\n\nCode: aaaa")  # no code
        assert tg.utf16_len(text) <= 4096
        assert text.endswith("a" * 4000 if letters == 4000 else "a…")  # the SMS whole, or cut to fit
        assert [row.code for row in await sms_rows(live)] == [None]  # not stored as a code either
        sends = len(live.fake.calls_of("sendMessage"))
        await poll_until_quiet(live)
        assert len(live.fake.calls_of("sendMessage")) == sends  # delivered: never sent again
        card_text = next(m["text"] for m in live.fake.messages_to(USER) if m["message_id"] == card)
        assert "Code received" in card_text and "a" * 300 not in card_text
        assert live.errors == []


async def test_refused_as_too_long_it_is_sent_short_in_the_same_cycle(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as live:
        await live.buy_whatsapp_us(USER)
        live.upstream.deliver_code(next(iter(live.upstream.activations)), "b" * 600)  # a 606-character SMS
        live.fake.inject_error("sendMessage", error_code=400, description=TOO_LONG, chat_id=USER)
        await live.dp["jobs"].poll()  # one cycle: refused, then sent short
        assert len(pushed(live)) == 1
        quoted = pushed(live)[0].rsplit("\n\n", 1)[-1]
        assert quoted == "Code: " + "b" * 493 + "…"  # the short form: 500 characters of the SMS
        assert [row.delivered for row in await sms_rows(live)] == [True]
        sends = len(live.fake.calls_of("sendMessage"))
        await poll_until_quiet(live)
        assert len(live.fake.calls_of("sendMessage")) == sends


async def test_refused_even_short_it_is_given_up_with_a_log_line_not_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with live_bot(tmp_path) as live:
        await live.buy_whatsapp_us(USER)
        live.upstream.deliver_code(next(iter(live.upstream.activations)), "583920")
        live.fake.inject_error("sendMessage", error_code=400, description=TOO_LONG, chat_id=USER, times=1000)
        with caplog.at_level(logging.WARNING, logger="handlers.notifier"):
            await poll_until_quiet(live, cycles=5)
        assert pushed(live) == []
        assert len(live.fake.calls_of("sendMessage")) == 3  # /start, then the full and the short form, once
        assert [row.delivered for row in await sms_rows(live)] == [True]
        assert any("refused even short" in r.getMessage() for r in caplog.records)
        card = live.fake.messages_to(USER)[-1]["text"]
        assert "583920" in card  # the code is on the order card all the same
