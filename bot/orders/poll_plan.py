"""Which open orders the poll job asks about one by one in a cycle: the read budget spent by likelihood.

Most codes arrive in an order's first minutes, so an order younger than :data:`FRESH` is asked every cycle.
Older ones back off: the gap between two asks doubles with age (two intervals from ``FRESH`` on, four from
twice that, ...) up to :data:`MAX_GAP`, so every order is still asked at least once a minute. When more
orders are due than the budget allows, the most overdue go first: the time since an order was last asked,
over an interval for a fresh order and over a minute for an older one. An order never asked comes before
all (the youngest first). So an over-full cycle rotates through the fresh orders instead of asking the
youngest again and again, most of the budget goes where codes are likely, and older orders still get a
share (about a twelfth of a fresh one's at the default interval): nobody starves.
The rest wait for a later cycle.

Pure: every time is in seconds on one clock (the event loop's), so the rule is tested without one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

#: an order this young (seconds since it was placed) is asked every cycle
FRESH = 300.0
#: no order waits longer than this between two asks (while the budget allows)
MAX_GAP = 60.0
#: the share of an interval a cycle may start late or early without an order being asked a cycle early or late
JITTER = 0.1


@dataclass(frozen=True, slots=True)
class Watched:
    """An open order as the schedule sees it."""

    order_id: int
    created: float  # when the order was placed
    asked: float | None  # when the upstream was last asked about it; None: not since the bot started


@dataclass(frozen=True, slots=True)
class Plan:
    ask: list[int]  # order ids to ask now, most likely to have news first
    deferred: int  # orders due but over the budget: left for a later cycle


def gap(age: float, interval: float) -> float:
    """Seconds wanted between two asks about an order ``age`` seconds old."""
    if age < FRESH:
        return 0.0
    doublings = min(int(math.log2(age / FRESH)) + 1, 32)
    return min(interval * 2**doublings, MAX_GAP - JITTER * interval)


def due(order: Watched, now: float, interval: float) -> bool:
    """Asked now if waiting for the next cycle would leave it unasked for longer than its gap."""
    if order.asked is None:
        return True
    return now - order.asked + interval * (1 - JITTER) > gap(now - order.created, interval)


def _priority(order: Watched, now: float, interval: float) -> tuple[float, float, int]:
    """Sort key: the most overdue for its own gap first; of equals, the youngest (then the later id)."""
    if order.asked is None:
        overdue = math.inf
    else:  # measured against an interval if fresh, else a minute: an over-full budget goes to the likely
        overdue = (now - order.asked) / (interval if now - order.created < FRESH else max(MAX_GAP, interval))
    return (-overdue, -order.created, -order.order_id)


def plan(orders: Iterable[Watched], now: float, interval: float, budget: int | None) -> Plan:
    """The orders to ask this cycle: every due one, or the ``budget`` most likely to have news
    (``budget`` None: no limit)."""
    wanted = sorted((o for o in orders if due(o, now, interval)), key=lambda o: _priority(o, now, interval))
    if budget is not None and len(wanted) > budget:
        return Plan([o.order_id for o in wanted[: max(budget, 0)]], len(wanted) - max(budget, 0))
    return Plan([o.order_id for o in wanted], 0)
