"""What a poll run costs the event loop, counted (statements, turns, threads), never timed: at an upstream that
lists every open order, a quiet run reads the same two statements whether 3 or 60 orders are open, reads an
order whole (``SELECT *``) only when it has news, and gives the loop turns while it goes through the list;
thousands of per-order checks are planned in a worker thread. Issue 11: building 10,000 order objects each
run stalled the loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.orders import poll_schedule, polling
from bot.orders.poll_plan import Plan
from bot.orders.tracking import Tracker
from bot.settings import Settings
from providers.base import Status, UpstreamState
from storage.db import Database
from storage.timestamps import iso
from storage.waiting_orders import Waiting
from tests.test_bulk_polling import INTERVAL, Lister, _tracker, waiting_orders


@pytest.fixture
async def statements(db: Database) -> AsyncIterator[list[str]]:
    """The SQL statements run on ``db`` from now on (a test clears it once its world is built)."""
    run: list[str] = []
    async with db.read() as conn:
        await conn.set_trace_callback(run.append)
    yield run
    async with db.read() as conn:
        await conn.set_trace_callback(None)


async def _quiet_run(db: Database, settings: Settings, n: int, statements: list[str]) -> list[str]:
    upstream = Lister()
    orders = await waiting_orders(db, upstream, n)
    tracker = _tracker(db, settings, upstream)
    upstream.sms_arrives(orders[0].upstream_id or "", "111111")  # one order with its code stored...
    assert [o.id for o in (await tracker.poll_run(INTERVAL)).changed] == [orders[0].id]
    statements.clear()
    run = await tracker.poll_run(INTERVAL)  # ...which the list shows again and again: nothing new
    assert (run.orders, run.changed, run.checks, upstream.calls[-1]) == (n, [], 0, "active")
    return list(statements)


@pytest.mark.parametrize("n", [3, 60])
async def test_a_quiet_run_reads_two_statements_however_many_orders_are_open(
    db: Database, settings: Settings, statements: list[str], n: int
) -> None:
    run = await _quiet_run(db, settings, n, statements)
    assert len(run) == 2  # the open orders' few columns; the one stored fingerprint
    assert run[0].startswith("SELECT id, provider, upstream_id, created_at, lease_owner, lease_until FROM orders")
    assert run[1].startswith("SELECT order_id, fingerprint FROM order_sms")


async def test_only_orders_with_news_are_read_whole(db: Database, settings: Settings, statements: list[str]) -> None:
    upstream = Lister()
    orders = await waiting_orders(db, upstream, 40)
    tracker: Tracker = _tracker(db, settings, upstream)
    await tracker.poll_run(INTERVAL)
    upstream.sms_arrives(orders[5].upstream_id or "", "222222")
    upstream.statuses[orders[9].upstream_id or ""] = Status(UpstreamState.CANCELLED)
    statements.clear()
    run = await tracker.poll_run(INTERVAL)
    assert [(o.id, o.status.value) for o in run.changed] == [
        (orders[5].id, "code_received"),
        (orders[9].id, "cancelled"),
    ]
    whole = [s for s in statements if s.startswith("SELECT * FROM orders WHERE id IN")]
    assert len(whole) == 1 and f"({orders[5].id}, {orders[9].id})" in whole[0]


async def test_a_large_list_lets_the_event_loop_in(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ``YIELD_EVERY`` orders of a bulk answer, the run gives the loop a turn."""
    monkeypatch.setattr(polling, "YIELD_EVERY", 4)
    upstream = Lister()
    await waiting_orders(db, upstream, 20)
    tracker = _tracker(db, settings, upstream)
    turns: list[int] = []
    real_sleep = polling.asyncio.sleep

    async def counted(delay: float) -> None:
        turns.append(1)
        await real_sleep(delay)

    monkeypatch.setattr(polling.asyncio, "sleep", counted)
    await tracker.poll_run(INTERVAL)
    assert len(turns) == 5


async def test_thousands_of_orders_are_planned_in_a_thread_as_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    rows = [Waiting(i, "up", f"u{i}", iso(now - timedelta(seconds=(i * 37) % 1200))) for i in range(1, 1201)]
    asked = {i: asyncio.get_running_loop().time() - (i % 90) for i in range(1, 1201, 3)}
    threads: list[int] = []
    real = poll_schedule.plan

    def traced(*args: Any) -> Plan:
        threads.append(threading.get_ident())
        return real(*args)

    monkeypatch.setattr(poll_schedule, "plan", traced)
    off_loop = await poll_schedule.planned(rows, asked, INTERVAL, 100)
    monkeypatch.setattr(poll_schedule, "IN_THREAD", len(rows) + 1)
    on_loop = await poll_schedule.planned(rows, asked, INTERVAL, 100)
    assert off_loop == on_loop and len(on_loop.ask) == 100
    assert threads[0] != threading.get_ident() and threads[1] == threading.get_ident()
