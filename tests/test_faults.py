"""Kill the real bot (SIGKILL) at each step of the purchase saga, restart it, and check the money.

After every crash and restart: no money lost or doubled (each order charged once, refunded at most
once, balance == ledger sum) and no order stuck in pending/unknown.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.fakes.telegram import FakeTelegram
from tests.test_e2e import (
    USER,
    StartBot,
    buy_whatsapp_us,
    code_messages,
    fake,
    has_text,
    start_bot,
    tap,
    topped_up_user,
)

__all__ = ["fake", "start_bot"]  # fixtures used below

FAST = {"PENDING_GRACE_SECONDS": "1", "POLL_INTERVAL_SECONDS": "0.5"}


def ledger_state(db_path: Path) -> tuple[int, int, list[tuple[int, str, int]], dict[str, int]]:
    with sqlite3.connect(db_path) as conn:
        balance = conn.execute("SELECT balance FROM users WHERE id = ?", (USER,)).fetchone()[0]
        total = conn.execute("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE user_id = ?", (USER,)).fetchone()[0]
        orders = conn.execute("SELECT id, status, price FROM orders WHERE user_id = ?", (USER,)).fetchall()
        refs = dict(conn.execute("SELECT reference, COUNT(*) FROM ledger GROUP BY reference").fetchall())
    return balance, total, orders, refs


def press(fake: FakeTelegram, label: str) -> None:
    """Press the newest button labelled ``label`` without waiting for an answer (the bot may die first)."""
    message_id, data = fake.find_button(USER, label)
    fake.press(USER, data, message_id=message_id)


async def crash_and_restart(
    fake: FakeTelegram, start_bot: StartBot, point: str, delay: str, on_confirm: Callable[[], Awaitable[object]]
) -> None:
    """Start the bot set to die at ``point``, bring a topped-up user to WhatsApp's Confirm screen, run
    ``on_confirm``, see the bot die there, and start it again."""
    bot = await start_bot(SMSBOT_CRASH_AT=point, DEMO_SMS_DELAY_SECONDS=delay, **FAST)
    await topped_up_user(fake)
    await buy_whatsapp_us(fake)
    await on_confirm()
    assert bot.proc is not None
    assert await asyncio.wait_for(bot.proc.wait(), 20) == -9, bot.output()[-2000:]
    assert f"crash point {point} reached" in bot.output()
    await start_bot(DEMO_SMS_DELAY_SECONDS=delay, **FAST)


async def settled(fake: FakeTelegram, db_path: Path, statuses: set[str]) -> tuple[int, list[tuple[int, str, int]]]:
    def done() -> bool:
        _, _, orders, _ = ledger_state(db_path)
        return bool(orders) and all(status in statuses for _, status, _ in orders)

    await fake.wait_for(done, timeout=25)
    balance, total, orders, refs = ledger_state(db_path)
    assert balance == total >= 0
    for order_id, status, _ in orders:
        assert refs.get(f"order:{order_id}:charge") == 1
        assert refs.get(f"order:{order_id}:refund", 0) == (1 if status in ("cancelled", "expired", "failed") else 0)
    return balance, orders


@pytest.mark.parametrize("point", ["reserved", "bought"])
async def test_crash_before_the_order_is_active_refunds(
    fake: FakeTelegram, start_bot: StartBot, tmp_path: Path, point: str
) -> None:
    async def confirm() -> None:
        press(fake, "Confirm")

    await crash_and_restart(fake, start_bot, point, "2", confirm)
    balance, orders = await settled(fake, tmp_path / "bot.sqlite3", {"failed"})
    assert balance == 500 and len(orders) == 1
    await fake.wait_for(lambda: has_text(fake, USER, "Could not get a number, the price was refunded"))


@pytest.mark.parametrize("point", ["activated", "sms_stored"])
async def test_crash_after_the_number_is_issued_still_delivers_once(
    fake: FakeTelegram, start_bot: StartBot, tmp_path: Path, point: str
) -> None:
    await crash_and_restart(fake, start_bot, point, "2", lambda: tap(fake, USER, "Confirm"))
    balance, orders = await settled(fake, tmp_path / "bot.sqlite3", {"code_received"})
    await fake.wait_for(lambda: code_messages(fake), timeout=20)
    await asyncio.sleep(1.5)  # a few more poll cycles: still exactly one code message
    assert len(code_messages(fake)) == 1
    assert balance == 441 and len(orders) == 1


@pytest.mark.parametrize("point", ["cancelled_upstream", "refunded"])
async def test_crash_during_cancel_refunds_exactly_once(
    fake: FakeTelegram, start_bot: StartBot, tmp_path: Path, point: str
) -> None:
    async def confirm_then_cancel() -> None:
        await tap(fake, USER, "Confirm")
        await fake.wait_for(lambda: has_text(fake, USER, "Waiting for the SMS"))
        press(fake, "Cancel")

    await crash_and_restart(fake, start_bot, point, "600", confirm_then_cancel)
    balance, orders = await settled(fake, tmp_path / "bot.sqlite3", {"cancelled"})
    assert balance == 500 and len(orders) == 1
