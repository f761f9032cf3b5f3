"""The poll job's schedule of per-order checks (bot.orders.poll_plan), as a pure function of times: fresh orders
every cycle, older ones backing off but asked at least once a minute, and an over-full cycle spent on the
orders most likely to have news."""

from __future__ import annotations

from itertools import pairwise

import pytest

from bot.orders.poll_plan import FRESH, MAX_GAP, Watched, plan

pytestmark = pytest.mark.postgres

INTERVAL = 5.0
NOW = 100_000.0  # seconds on the schedule's clock


def _order(order_id: int, age: float, since_asked: float | None) -> Watched:
    return Watched(order_id, NOW - age, None if since_asked is None else NOW - since_asked)


def _asks(order_id: int, age: float, cycles: int, interval: float = INTERVAL, late: float = 0.0) -> list[float]:
    """When the schedule asks about one order over ``cycles`` runs ``interval`` apart (each ``late`` seconds
    behind its slot), alone and with no budget limit; the order is ``age`` seconds old at the first."""
    created, asked, times = NOW - age, None, []
    for n in range(cycles):
        now = NOW + n * interval + (late if n % 2 else 0.0)
        if plan([Watched(order_id, created, asked)], now, interval, None).ask:
            asked = now
            times.append(now)
    return times


def _gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in pairwise(times)]


def test_an_order_never_asked_is_due_whatever_its_age() -> None:
    orders = [_order(1, 10, None), _order(2, 3600, None), _order(3, 86_400, None)]
    assert sorted(plan(orders, NOW, INTERVAL, None).ask) == [1, 2, 3]


def test_fresh_orders_are_asked_every_cycle() -> None:
    times = _asks(1, age=0, cycles=int(FRESH // INTERVAL))
    assert len(times) == int(FRESH // INTERVAL)  # every cycle of its first five minutes
    asked_just_now = _order(2, age=FRESH - 1, since_asked=0.0)
    assert plan([asked_just_now], NOW, INTERVAL, None).ask == [2]


def test_older_orders_back_off_as_they_age() -> None:
    ten_minutes = _asks(1, age=FRESH + 1, cycles=60)  # five minutes of cycles, from 5 minutes old
    assert set(_gaps(ten_minutes)) == {2 * INTERVAL}  # every other cycle
    an_hour = _asks(2, age=3600, cycles=60)
    assert len(an_hour) < len(ten_minutes) / 2
    assert plan([_order(3, age=3600, since_asked=INTERVAL)], NOW, INTERVAL, None).ask == []


@pytest.mark.parametrize("interval", [0.2, 1.0, 5.0, 7.0, 13.0, 45.0])
@pytest.mark.parametrize("late", [0.0, 0.004])
def test_every_order_is_asked_at_least_once_a_minute(interval: float, late: float) -> None:
    for age in (FRESH, 2 * FRESH, 3600.0, 86_400.0):
        times = _asks(1, age=age, cycles=int(900 / interval), interval=interval, late=late)
        gaps = _gaps(times)
        assert gaps and max(gaps) <= MAX_GAP + late


def test_an_interval_over_a_minute_asks_every_order_every_cycle() -> None:
    assert _asks(1, age=86_400, cycles=10, interval=90.0) == [NOW + n * 90.0 for n in range(10)]


def test_a_cycle_a_little_late_does_not_undo_the_back_off() -> None:
    times = _asks(1, age=FRESH + 1, cycles=20, late=0.004)  # every other run a few ms behind its slot
    assert len(times) == 10


def test_over_budget_the_most_overdue_go_first_fresh_by_the_interval_older_by_the_minute() -> None:
    orders = [
        _order(1, age=3600, since_asked=56),
        _order(2, age=60, since_asked=INTERVAL),
        _order(3, age=7200, since_asked=None),
        _order(4, age=10, since_asked=INTERVAL),
        _order(5, age=1800, since_asked=58),
        _order(6, age=200, since_asked=INTERVAL),
    ]
    # 3: never asked; 4, 2, 6: fresh, one interval since asked (youngest first); 5 and 1: 58 and 56 s of a minute
    assert plan(orders, NOW, INTERVAL, None).ask == [3, 4, 2, 6, 5, 1]
    limited = plan(orders, NOW, INTERVAL, 4)
    assert limited.ask == [3, 4, 2, 6]
    assert limited.deferred == 2


def test_orders_not_due_do_not_count_against_the_budget() -> None:
    orders = [_order(1, age=3600, since_asked=1), _order(2, age=3600, since_asked=59), _order(3, age=20, since_asked=1)]
    chosen = plan(orders, NOW, INTERVAL, 2)
    assert chosen.ask == [2, 3]  # 59 s of a minute is more overdue than 1 s of an interval
    assert chosen.deferred == 0


def test_a_budget_of_nothing_defers_every_due_order() -> None:
    chosen = plan([_order(1, 10, None), _order(2, 20, None)], NOW, INTERVAL, 0)
    assert chosen.ask == [] and chosen.deferred == 2


def test_fresh_orders_of_the_same_moment_go_later_id_first() -> None:
    same = [_order(1, age=30, since_asked=INTERVAL), _order(2, age=30, since_asked=INTERVAL)]
    assert plan(same, NOW, INTERVAL, 1).ask == [2]


def test_an_over_full_cycle_rotates_through_fresh_orders_and_starves_none() -> None:
    """300 fresh and 100 older orders, 75 checks a cycle (four times over): once every order was asked, a fresh
    order waits about four cycles, not for ever behind the youngest 75; older ones are asked again too."""
    created = {n: NOW - 10 - n / 2 for n in range(300)} | {n: NOW - 1200 - n for n in range(300, 400)}
    asked: dict[int, float | None] = dict.fromkeys(created)
    times: dict[int, list[float]] = {n: [] for n in created}
    for cycle in range(80):
        now = NOW + cycle * INTERVAL
        for n in plan([Watched(n, created[n], asked[n]) for n in created], now, INTERVAL, 75).ask:
            asked[n] = now
            times[n].append(now)
    warm = NOW + 60  # after every order was asked once
    waits = [  # at each cycle while an order is fresh: seconds since it was last asked
        now - max(t for t in times[n] if t <= now)
        for n in range(300)
        for now in (NOW + c * INTERVAL for c in range(80))
        if now > warm and now - created[n] < FRESH
    ]
    assert waits and max(waits) <= 4 * INTERVAL
    assert all(len(times[n]) >= 2 for n in created)
