"""End to end: the real bot process in polling mode with WEB_PORT set serves /metrics on its health server.
A /start is one more message update; a purchase shows in the orders, purchases, ledger and balance
figures read from the database; no user id appears anywhere on the page."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.botproc import BotProcess
from tests.conftest import TOKEN, bot_process, free_port
from tests.fakes.telegram import FakeTelegram

ADMIN, USER = 31_415_926, 27_182_818  # distinctive ids: neither may show up in the metrics

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[tuple[BotProcess, int]]:
    port = free_port()
    proc = bot_process(
        fake, tmp_path, WEB_PORT=str(port), ADMIN_IDS=str(ADMIN), DEMO_SMS_DELAY_SECONDS="1",
        POLL_INTERVAL_SECONDS="0.5", MARKUP_PERCENT="30",
    )  # fmt: skip
    await proc.start()
    await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=60)
    yield proc, port
    await proc.stop()
    assert "Traceback" not in proc.output(), proc.output()[-3000:]


async def scrape(port: int) -> tuple[str, Samples]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return text, samples


async def scrape_until(port: int, done: Callable[[Samples], bool]) -> Samples:
    """Scrape until ``done`` holds, for 30 s at most (the database figures are cached for a few seconds)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        _text, samples = await scrape(port)
        if done(samples) or asyncio.get_running_loop().time() > deadline:
            return samples
        await asyncio.sleep(0.5)


def last_text(fake: FakeTelegram, user_id: int) -> str:
    messages = fake.messages_to(user_id)
    return messages[-1].get("text", "") if messages else ""


async def tap(fake: FakeTelegram, user_id: int, label: str) -> int:
    message_id, data = fake.find_button(user_id, label)
    query_id = fake.press(user_id, data, message_id=message_id)
    await fake.wait_for(lambda: query_id in fake.answered_callbacks(), timeout=30)
    return message_id


MESSAGES = ("smsbot_updates_total", (("type", "message"),))


async def test_a_start_is_one_more_message_update_and_a_purchase_shows_in_the_figures(
    fake: FakeTelegram, bot: tuple[BotProcess, int]
) -> None:
    _proc, port = bot
    _text, before = await scrape(port)
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER), timeout=30)
    handled = ("smsbot_update_handling_seconds_count", (("type", "message"),))
    # the reply is sent inside the handler; its time is observed only once the handler returned
    after = await scrape_until(port, lambda s: s.get(handled, 0) > before.get(handled, 0))
    assert after[MESSAGES] == before.get(MESSAGES, 0) + 1
    assert after[handled] == before.get(handled, 0) + 1
    sends = ("smsbot_bot_api_requests_total", (("method", "sendMessage"),))
    assert after[sends] > before.get(sends, 0)

    fake.send_message(ADMIN, f"/credit {USER} 5.00 test top-up")
    await fake.wait_for(lambda: "Credited" in last_text(fake, ADMIN), timeout=30)
    await tap(fake, USER, "Buy a number")
    await tap(fake, USER, "United States")
    await tap(fake, USER, "WhatsApp")
    await tap(fake, USER, "Confirm")
    await fake.wait_for(
        lambda: any(m.get("text", "").startswith("🧪 DEMO · WhatsApp code:") for m in fake.messages_to(USER)),
        timeout=30,
    )

    code = ("smsbot_orders", (("status", "code_received"),))
    samples = await scrape_until(port, lambda s: s.get(code) == 1)
    assert samples[code] == 1
    assert samples[("smsbot_upstream_purchases", (("kind", "number"), ("outcome", "sold"), ("upstream", "demo")))] == 1
    assert samples[("smsbot_ledger_rows", (("kind", "purchase"),))] == 1
    assert samples[("smsbot_ledger_minor", (("currency", "USD"), ("kind", "purchase")))] == -59
    assert samples[("smsbot_ledger_minor", (("currency", "USD"), ("kind", "admin_credit")))] == 500
    assert samples[("smsbot_balances_minor", (("currency", "USD"),))] == 441
    assert samples[("smsbot_upstream_breaker_state", (("upstream", "demo"),))] == 0
    assert samples[("smsbot_upstream_request_seconds_count", (("operation", "buy"), ("upstream", "demo")))] >= 1
    assert samples[("smsbot_poll_cycle_seconds_count", ())] >= 1
    assert samples[MESSAGES] == before.get(MESSAGES, 0) + 2  # /start and /credit
    assert samples[("smsbot_updates_total", (("type", "callback_query"),))] == 4

    text, _ = await scrape(port)
    for person in (USER, ADMIN):
        assert str(person) not in text
    labels = {value for _name, pairs in samples for _label, value in pairs}
    assert not any(re.fullmatch(r"\d{5,}", value) for value in labels)  # no id-like label value at all
