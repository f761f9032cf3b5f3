"""Who pushes an order's SMS when replicas share one database (issue 15): the replica holding the order's lease,
each SMS once, Refresh taps included; a poll run slower than a lease renews the leases it holds, and pushes
none of the orders another replica took meanwhile. The replicas and their clock: :mod:`tests.lease_world`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from bot.settings import Settings
from storage.backends import Store
from storage.orders import Order, OrderStatus
from storage.timestamps import iso
from tests.lease_world import (
    LEASE,
    Clock,
    Replica,
    World,
    clock,
    lease_rows,
    make_orders,
    other_db,
    replica,
    two_replicas,
    world,
)
from tests.test_bulk_polling import Lister

__all__ = ["clock", "other_db", "world"]  # fixtures

pytestmark = pytest.mark.postgres


async def _until(done: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait (bounded, generously: a loaded CI) until ``done``."""
    for _ in range(2000):
        if await done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"waited 20 s for {what}")


def _hang_check(rep: Replica, upstream_id: str) -> tuple[asyncio.Event, asyncio.Event]:
    """The replica's check of ``upstream_id`` hangs (an upstream not answering) until the gate opens."""
    entered, gate = asyncio.Event(), asyncio.Event()
    real = rep.upstream.check

    async def check(asked: str) -> object:
        if asked == upstream_id:
            entered.set()
            await gate.wait()
        return await real(asked)

    rep.upstream.check = check  # type: ignore[method-assign,assignment]
    return entered, gate


async def _slow_run_with_a_code(
    db: Store, other_db: Store, clock: Clock, world: World, settings: Settings, renew_every: float
) -> tuple[Replica, Order, asyncio.Task[None], asyncio.Event]:
    """Replica a holds two orders; its run stores a code for the first and hangs on the second's check."""
    code, hanging = await make_orders(db, world, 2)
    a, b = replica(db, "a", clock, world, settings), replica(other_db, "b", clock, world, settings)
    a.leases.renew_every = renew_every
    await a.run()  # a alone: it leases both
    lister = Lister()
    lister.statuses = world[0]
    lister.sms_arrives(code.upstream_id or "", "424242")
    entered, gate = _hang_check(a, hanging.upstream_id or "")
    running = asyncio.create_task(a.jobs.poll())
    await asyncio.wait_for(entered.wait(), 20)

    async def stored() -> bool:
        return bool(await a.tracker.orders.sms(code.id))

    await _until(stored, "the code stored by a's run")
    return b, code, running, gate


async def test_a_run_longer_than_its_lease_does_not_push_a_code_the_new_holder_pushes(
    db: Store, other_db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    b, code, running, gate = await _slow_run_with_a_code(db, other_db, clock, world, settings, 3600)
    clock.advance(LEASE + 1)  # a's leases ran out under its run (no renewal in time): b takes the orders
    sending, held = asyncio.Event(), asyncio.Event()
    mark = b.tracker.orders.mark_delivered

    async def slow_mark(sms_id: int) -> None:  # b is in the middle of sending the code
        sending.set()
        await held.wait()
        await mark(sms_id)

    b.tracker.orders.mark_delivered = slow_mark  # type: ignore[method-assign]
    b_run = asyncio.create_task(b.run())
    await asyncio.wait_for(sending.wait(), 20)
    gate.set()  # a's run ends now: the code is in its changes, but the order is b's
    await asyncio.wait_for(running, 20)
    held.set()
    await asyncio.wait_for(b_run, 20)
    assert world[1] == [(code.id, "Your code is 424242")]  # once, by b
    assert (await lease_rows(db))[code.id][0] == "b"


async def test_a_run_longer_than_its_lease_renews_its_leases_so_no_other_replica_takes_them(
    db: Store, other_db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    b, code, running, gate = await _slow_run_with_a_code(db, other_db, clock, world, settings, 0.05)
    clock.advance(LEASE - 1)

    async def renewed() -> bool:  # a beat: its leases stay good (however the leases count that)
        async with db.read() as conn:
            rows = await conn.execute_fetchall("SELECT seen_at FROM replicas WHERE name = 'a'")
        return [tuple(row) for row in rows] == [(iso(clock()),)]

    await _until(renewed, "a's leases renewed during its run")
    clock.advance(2)  # past the leases a's run started with
    assert await b.run() == set()  # a is live and holds both: b asks about neither, pushes nothing
    gate.set()
    await asyncio.wait_for(running, 20)
    assert world[1] == [(code.id, "Your code is 424242")]  # once, by a
    assert {owner for owner, _ in (await lease_rows(db)).values()} == {"a"}


async def test_two_replicas_deliver_each_sms_exactly_once_refresh_taps_included(
    db: Store, other_db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    orders, a, b, _ = await two_replicas(db, other_db, clock, world, settings)
    lister = Lister()
    lister.statuses = world[0]
    for order in orders:
        lister.sms_arrives(order.upstream_id or "", f"{order.id:06d}")
    for _ in range(3):  # both poll at once, and the user taps Refresh on b for every order, twice each
        taps = [b.tracker.refresh(order, 0) for order in orders]
        _, _, *changed = await asyncio.gather(a.jobs.poll(), b.jobs.poll(), *taps)
        for order in changed:
            if order is not None:
                await b.jobs.notifications.deliver(order)
        clock.advance(1)
    sent = world[1]
    assert sorted(sent) == sorted((o.id, f"Your code is {o.id:06d}") for o in orders)  # each once, none twice
    for order in orders:
        got = await a.tracker.orders.get(order.id)
        assert got is not None and got.status is OrderStatus.CODE_RECEIVED


async def test_only_the_lease_holder_delivers_and_a_run_out_lease_passes_to_whoever_delivers(
    db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    orders = await make_orders(db, world, 2)
    mine = replica(db, "mine", clock, world, settings)
    await mine.run()
    held, loose = orders
    until = iso(clock() + timedelta(seconds=LEASE))
    async with db.transaction() as conn:  # another replica holds ``held``
        await conn.execute("UPDATE orders SET lease_owner = 'other', lease_until = ? WHERE id = ?", (until, held.id))
    lister = Lister()
    lister.statuses = world[0]
    lister.sms_arrives(held.upstream_id or "", "424242")
    assert await mine.tracker.refresh(held, 0) is None  # asked and stored, but not this replica's to push
    assert [s.code for s in await mine.tracker.orders.sms(held.id)] == ["424242"]
    await mine.jobs.poll()
    assert world[1] == []  # the holder pushes it
    clock.advance(LEASE + 1)  # the holder died: its lease ran out
    await mine.jobs.poll()
    assert world[1] == [(held.id, "Your code is 424242")]
    assert (await lease_rows(db))[held.id][0] == "mine" and (await lease_rows(db))[loose.id][0] == "mine"
