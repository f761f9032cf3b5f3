"""Kill the real bot (SIGKILL) at each step of the purchase saga, restart it, and check the money.

After every crash and restart: no money lost or doubled (each order charged once, refunded at most
once, balance == ledger sum) and no order stuck in pending/unknown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from storage.backends import Store
from tests.conftest import open_bot_db
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
pytestmark = pytest.mark.postgres  # a crashed replica's money must come out right on either backend

FAST = {"PENDING_GRACE_SECONDS": "1", "POLL_INTERVAL_SECONDS": "0.5"}


async def ledger_state(db: Store) -> tuple[int, int, list[tuple[int, str, int]], dict[str, int]]:
    """The user's balance and ledger sum, their orders, and how often each ledger reference occurs.

    The orders first, then the balance and the ledger sum in one statement, then the references: this test
    reads the bot's database from another process, where SQLite gives each statement its own moment, so
    whatever settled an order is in every read after the one that saw it settled."""
    async with db.read() as conn:

        async def rows(sql: str, *params: object) -> list[tuple[object, ...]]:
            return [tuple(row) for row in await conn.execute_fetchall(sql, params)]

        orders = await rows("SELECT id, status, price FROM orders WHERE user_id = ?", USER)
        ((balance, total),) = await rows(
            "SELECT (SELECT balance FROM users WHERE id = ?), (SELECT COALESCE(SUM(amount), 0) FROM ledger"
            " WHERE user_id = ?)",
            USER,
            USER,
        )
        refs = dict(await rows("SELECT reference, COUNT(*) FROM ledger GROUP BY reference"))
    return balance, total, orders, refs  # type: ignore[return-value]


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


async def settled(tmp_path: Path, statuses: set[str]) -> tuple[int, list[tuple[int, str, int]]]:
    """Once every order of the user is in ``statuses``: the money checks, then (balance, orders)."""
    db = await open_bot_db(tmp_path)  # the restarted bot's database, SQLite or PostgreSQL
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 25
        while True:
            balance, total, orders, refs = await ledger_state(db)
            if orders and all(status in statuses for _, status, _ in orders):
                break
            assert loop.time() < deadline, f"orders not settled in {sorted(statuses)}: {orders}"
            await asyncio.sleep(0.1)
    finally:
        await db.close()
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
    balance, orders = await settled(tmp_path, {"failed"})
    assert balance == 500 and len(orders) == 1
    await fake.wait_for(lambda: has_text(fake, USER, "Could not get a number, the price was refunded"))


@pytest.mark.parametrize("point", ["activated", "sms_stored"])
async def test_crash_after_the_number_is_issued_still_delivers_once(
    fake: FakeTelegram, start_bot: StartBot, tmp_path: Path, point: str
) -> None:
    await crash_and_restart(fake, start_bot, point, "2", lambda: tap(fake, USER, "Confirm"))
    balance, orders = await settled(tmp_path, {"code_received"})
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
    balance, orders = await settled(tmp_path, {"cancelled"})
    assert balance == 500 and len(orders) == 1
