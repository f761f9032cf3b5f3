"""The per-order checks of a poll run, planned (:func:`bot.orders.poll_plan.plan`) off the event loop when there
are thousands of orders to weigh: 10,000 of them took 30-90 ms of loop time a run to weigh and sort."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from bot.orders.poll_plan import Plan, Watched, plan
from storage.orders import parse_iso
from storage.waiting_orders import Waiting

#: orders from which the plan is made in a worker thread (fewer: on the loop, cheaper than a thread's hop)
IN_THREAD = 500


async def planned(orders: Sequence[Waiting], asked: Mapping[int, float], interval: float, budget: int | None) -> Plan:
    """The checks to make now of ``orders``, given when each was last asked (``asked``, loop time)."""
    now, wall = asyncio.get_running_loop().time(), datetime.now(UTC)
    if len(orders) < IN_THREAD:
        return plan(watched(orders, asked, now, wall), now, interval, budget)
    copy = dict(asked)  # a Refresh may ask about an order meanwhile
    return await asyncio.to_thread(lambda: plan(watched(orders, copy, now, wall), now, interval, budget))


def watched(orders: Sequence[Waiting], asked: Mapping[int, float], now: float, wall: datetime) -> list[Watched]:
    """The orders on the event loop's clock (``now`` there is ``wall`` on the clock of the wall)."""
    return [Watched(o.id, now - (wall - parse_iso(o.created_at)).total_seconds(), asked.get(o.id)) for o in orders]
