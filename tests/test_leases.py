"""Order leases (issue 15): replicas sharing one database poll each open order exactly once between them, split
the orders about evenly, and take over a dead replica's orders once its leases run out (at once after a graceful
release). A quiet run of a replica that holds its share writes nothing. Who delivers: :mod:`tests.test_lease_delivery`.
The replicas and their clock: :mod:`tests.lease_world`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

import pytest

from bot.orders.leases import Leases
from bot.orders.placing import OrderService
from bot.orders.tracking import Tracker
from bot.settings import Settings
from providers.catalog import Catalog
from providers.demo import DemoProvider
from providers.guard import GuardedProvider
from storage.backends import Store
from storage.orders import OrderStatus
from storage.timestamps import iso
from tests.conftest import add_user
from tests.lease_world import (
    LEASE,
    Checker,
    Clock,
    World,
    clock,
    lease_rows,
    make_orders,
    other_db,
    replica,
    two_replicas,
    world,
)

__all__ = ["LEASE", "Checker", "Clock", "clock", "other_db", "world"]  # (fixtures; and tests.test_singleton_jobs)

pytestmark = pytest.mark.postgres


@pytest.fixture
def transactions(db: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the write transactions opened on ``db``."""
    opened: list[int] = []
    real = db.transaction

    def counted() -> AbstractAsyncContextManager[Any]:
        opened.append(1)
        return real()

    monkeypatch.setattr(db, "transaction", counted)
    yield opened


async def test_one_replica_leases_every_waiting_order_and_renews_only_every_third_of_a_lease(
    db: Store, clock: Clock, world: World, settings: Settings, transactions: list[int]
) -> None:
    orders = await make_orders(db, world, 10)
    solo = replica(db, "solo", clock, world, settings)
    transactions.clear()
    assert await solo.run() == {o.upstream_id for o in orders}
    assert transactions == [1]  # the claim: beat, renew, take
    assert set((await lease_rows(db)).values()) == {("solo", iso(clock() + timedelta(seconds=LEASE)))}
    clock.advance(LEASE / 3 - 1)
    transactions.clear()
    assert len(await solo.run()) == 10
    assert await solo.leases.take([o.id for o in orders]) == {o.id for o in orders}  # (its to deliver)
    assert transactions == []  # a quiet run within a third of the lease writes nothing, nor does holding
    taken = await lease_rows(db)
    clock.advance(1)
    assert len(await solo.run()) == 10
    assert transactions == [1]  # renewed: the replica's beat, not a write per order
    assert await lease_rows(db) == taken
    async with db.read() as conn:
        assert [tuple(r) for r in await conn.execute_fetchall("SELECT name, seen_at FROM replicas")] == [
            ("solo", iso(clock()))
        ]


async def test_two_replicas_poll_each_order_once_and_split_them_evenly(
    db: Store, other_db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    orders = await make_orders(db, world, 10)
    every = {o.upstream_id for o in orders}
    a, b = replica(db, "a", clock, world, settings), replica(other_db, "b", clock, world, settings)
    assert (await a.run(), await b.run()) == (every, set())  # a was alone: all its own; b's share is held
    clock.advance(LEASE / 3)  # a's next claim counts b live: it gives up half, which b takes
    polled_a, polled_b = await a.run(), await b.run()
    assert (len(polled_a), len(polled_b)) == (5, 5) and polled_a | polled_b == every
    for _ in range(3):  # at the same time, again and again: the same split, nothing asked twice
        clock.advance(LEASE / 3)
        again_a, again_b = await asyncio.gather(a.run(), b.run())
        assert (again_a, again_b) == (polled_a, polled_b)


async def test_the_live_replicas_share_each_upstreams_rate(
    db: Store, other_db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    """An upstream limits calls per account: two live replicas each keep to half of UPSTREAM_RATE_PER_SECOND,
    and one left alone (the other died) to all of it again."""
    await make_orders(db, world, 4)
    guarded = GuardedProvider(DemoProvider(0), rate=8, failures=5, cooldown=60)
    full = guarded.read_rate
    a, b = replica(db, "a", clock, world, settings), replica(other_db, "b", clock, world, settings)
    a.leases.on_live = Catalog([guarded]).share_rates  # as bot/services.py wires the shop's catalog
    await a.run()
    assert guarded.read_rate == full  # alone
    await b.run()
    clock.advance(LEASE / 3)
    await a.run()
    assert guarded.read_rate == full / 2 and guarded.write_limiter.max_rate == 1.0  # b is live: half each
    clock.advance(LEASE + 1)  # b stopped beating
    await a.run()
    assert guarded.read_rate == full


async def test_a_dead_replicas_orders_move_to_the_other_within_one_lease(
    db: Store, other_db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    orders, a, _, held_b = await two_replicas(db, other_db, clock, world, settings)
    assert len(held_b) == 5
    died = clock()  # b stops renewing; a runs on
    while clock() - died <= timedelta(seconds=LEASE):
        clock.advance(LEASE / 3 - 1)
        polled = await a.run()
        if clock() - died <= timedelta(seconds=LEASE):
            assert polled.isdisjoint(held_b)  # b's leases still hold: its orders are not a's to ask about
    assert polled == {o.upstream_id for o in orders}  # the lease ran out: a took them all


async def test_a_graceful_release_hands_the_orders_over_at_once(
    db: Store, other_db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    orders, a, b, _ = await two_replicas(db, other_db, clock, world, settings)
    await b.leases.release()  # b stops gracefully
    assert {owner for owner, _ in (await lease_rows(db)).values()} == {"a", None}
    assert await a.run() == {o.upstream_id for o in orders}  # at once: no lease to wait out
    async with db.read() as conn:
        assert [row[0] for row in await conn.execute_fetchall("SELECT name FROM replicas")] == ["a"]


async def test_a_placed_order_is_leased_to_the_replica_that_placed_it(
    db: Store, services: tuple[OrderService, Tracker, Any], clock: Clock
) -> None:
    orders, _, _ = services
    orders.leases = Leases(db, "placer", LEASE, clock)
    await add_user(db, 42, balance=10_000)
    result = await orders.place(
        user_id=42, chat_id=42, request_key="k1", country="US", service="whatsapp", confirmed=10_000
    )
    assert result.order is not None and result.order.status is OrderStatus.ACTIVE
    assert (await lease_rows(db))[result.order.id] == ("placer", iso(clock() + timedelta(seconds=LEASE)))


async def test_a_restart_after_a_crash_polls_at_once_on_sqlite_and_after_the_dead_lease_on_postgresql(
    db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    orders = await make_orders(db, world, 4)
    await Leases(db, "crashed", LEASE, clock, sole=False).claim()  # held, then the process was killed
    restarted = replica(db, "restarted", clock, world, settings, sole=None)
    every = {o.upstream_id for o in orders}
    if db.dialect == "sqlite":  # one process per file: the leases can only be a dead process's
        assert restarted.leases.sole and await restarted.run() == every
        return
    assert not restarted.leases.sole and await restarted.run() == set()  # maybe another live replica's
    clock.advance(LEASE + 1)
    assert await restarted.run() == every
