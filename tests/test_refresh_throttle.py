"""Refresh reads the stored order and asks the upstream at most once per REFRESH_MIN_SECONDS per order:
a hundred taps must not spend the upstream's rate budget that polling and other buyers share."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.inprocess import LiveBot, live_bot

USER = 4242

pytestmark = pytest.mark.postgres  # the in-process bot runs on the test's backend


def status_reads(live: LiveBot) -> int:
    """Reads of order status the upstream received: a Refresh's getStatus, and the poll job's getStatus or
    its bulk getActiveActivations (one call answering for every open order)."""
    return live.status_checks() + live.upstream.actions().count("getActiveActivations")


async def test_100_refresh_taps_ask_the_upstream_once_and_are_all_answered(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as live:  # flood control out of the way: every tap reaches the handler
        card = await live.buy_whatsapp_us(USER)
        _, refresh = live.fake.find_button(USER, "Refresh")
        before = live.status_checks()
        taps = [live.fake.press(USER, refresh, message_id=card) for _ in range(100)]
        await live.feed()
        assert set(taps) <= live.fake.answered_callbacks()
        assert live.status_checks() - before == 1
        assert live.errors == []


async def test_the_poll_jobs_check_counts_and_the_stored_state_is_shown(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as live:
        card = await live.buy_whatsapp_us(USER)
        await live.dp["jobs"].poll()  # the scheduled job asks the upstream about every open order
        checks = status_reads(live)
        assert checks >= 1
        activation = next(iter(live.upstream.activations))
        live.upstream.deliver_code(activation, "583920")
        for _ in range(10):
            await live.tap(USER, "Refresh")
        assert status_reads(live) == checks  # asked moments ago: the stored state stands
        card_text = next(m["text"] for m in live.fake.messages_to(USER) if m["message_id"] == card)
        assert "Waiting for the SMS" in card_text
        await live.dp["jobs"].poll()  # the next cycle brings the code
        assert any("583920" in m.get("text", "") for m in live.fake.messages_to(USER))


async def test_refresh_asks_again_once_the_interval_has_passed(tmp_path: Path) -> None:
    async with live_bot(tmp_path, refresh_min_seconds=0.2) as live:
        await live.buy_whatsapp_us(USER)
        before = live.status_checks()
        await live.tap(USER, "Refresh")
        await live.tap(USER, "Refresh")
        assert live.status_checks() - before == 1
        await asyncio.sleep(0.25)
        await live.tap(USER, "Refresh")
        assert live.status_checks() - before == 2


async def test_100_taps_with_flood_control_on_are_answered_and_told_too_fast_once(tmp_path: Path) -> None:
    async with live_bot(tmp_path, user_updates_per_second=3, user_updates_burst=5) as live:
        card = await live.buy_whatsapp_us(USER)
        await asyncio.sleep(5 / 3)  # the purchase's taps drained from the user's bucket
        _, refresh = live.fake.find_button(USER, "Refresh")
        before, answers = live.status_checks(), len(live.fake.calls_of("answerCallbackQuery"))
        taps = [live.fake.press(USER, refresh, message_id=card) for _ in range(100)]
        await live.feed()
        assert set(taps) <= live.fake.answered_callbacks()  # none left spinning
        assert live.status_checks() - before <= 1
        told = [c for c in live.fake.calls_of("answerCallbackQuery")[answers:] if c.params.get("text")]
        assert len(told) == 1 and "Too fast" in told[0].params["text"]
        assert live.errors == []
