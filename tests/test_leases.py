"""Order leases (issue 15): replicas sharing one database poll each open order exactly once between them, split
the orders about evenly, take over a dead replica's orders once its leases run out (at once after a graceful
release), and deliver each SMS exactly once. A quiet run of a replica that holds its share writes nothing.

"Replicas" are two sets of services, each with its own lease name: on PostgreSQL on two stores (two pools) of
one database; on SQLite on the one store of its one process, told it is not alone (``sole=False``: the bot's
SQLite process is, and takes every lease, see the restart test), so the same lease rules are checked on both.
Time is a clock the test moves, shared by both; which replica polled an order is counted in its own
upstream's checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from bot.jobs import Jobs
from bot.money.pricing import Pricing
from bot.notifications import Alert
from bot.orders.actions import OrderActions
from bot.orders.leases import Leases
from bot.orders.placing import OrderService
from bot.orders.tracking import Tracker
from bot.settings import Settings
from providers.base import Status
from providers.catalog import Catalog
from storage.backends import Store
from storage.orders import Order, OrderStatus
from storage.postgres import PostgresDatabase
from storage.timestamps import iso
from tests.conftest import add_user
from tests.order_services import order_service
from tests.test_bulk_polling import Lister, waiting_orders

pytestmark = pytest.mark.postgres

LEASE = 30.0


class Clock:
    """The wall clock of both replicas, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Checker(Lister):
    """One replica's view of the shared upstream: no bulk read, so each order polled is one check, counted."""

    can_list_active = False
    can_cancel = False

    def __init__(self, statuses: dict[str, Status]) -> None:
        super().__init__()
        self.statuses = statuses  # the same upstream behind every replica
        self.checked: list[str] = []

    async def check(self, upstream_id: str) -> Status:
        self.checked.append(upstream_id)
        return self.statuses[upstream_id]


class Chat:
    """The Notifications port as the Telegram notifier does it: each SMS not delivered is sent, then marked."""

    def __init__(self, orders: OrderService, sent: list[tuple[int, str]]) -> None:
        self.orders = orders
        self.sent = sent  # shared by the replicas: (order id, SMS text) per message sent

    async def deliver(self, order: Order) -> None:
        for sms in await self.orders.sms(order.id):
            if not sms.delivered:
                await asyncio.sleep(0)  # a send takes a while: another deliverer would get in here
                self.sent.append((order.id, sms.text))
                await self.orders.mark_delivered(sms.id)

    async def alert(self, alert: Alert) -> bool:
        return True


@dataclass
class Replica:
    leases: Leases
    upstream: Checker
    tracker: Tracker
    jobs: Jobs

    async def run(self) -> set[str]:
        """One poll job run; the upstream ids it asked about."""
        self.upstream.checked.clear()
        await self.jobs.poll()
        return set(self.upstream.checked)


World = tuple[dict[str, Status], list[tuple[int, str]]]  # the upstream's statuses; the messages sent


def replica(
    db: Store, name: str, clock: Clock, world: World, settings: Settings, *, sole: bool | None = False
) -> Replica:
    """One replica's services on ``db``, leasing as ``name`` (``sole``: None, as the bot decides it)."""
    statuses, sent = world
    upstream = Checker(statuses)
    orders = order_service(db, Catalog([upstream]), Pricing(settings), timedelta(minutes=20))
    orders.leases = leases = Leases(db, name, LEASE, clock, sole=sole)
    tracker = Tracker(orders, OrderActions(orders), concurrency=4)
    jobs = Jobs(tracker, Chat(orders, sent), *cast(Any, (None, None, None)), settings)
    return Replica(leases, upstream, tracker, jobs)


@pytest.fixture
async def other_db(db: Store, database_url: str | None) -> AsyncIterator[Store]:
    """The second replica's store: a pool of its own on PostgreSQL; on SQLite the one process's store."""
    if database_url is None:
        yield db
        return
    second = await PostgresDatabase.open(database_url, pool_size=4)
    yield second
    await second.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world() -> World:
    return {}, []


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


async def _orders(db: Store, world: World, n: int) -> list[Order]:
    upstream = Lister()
    upstream.statuses = world[0]
    return await waiting_orders(db, upstream, n)


async def _leases(db: Store) -> dict[int, tuple[str | None, str | None]]:
    async with db.read() as conn:
        rows = await conn.execute_fetchall("SELECT id, lease_owner, lease_until FROM orders ORDER BY id")
    return {row[0]: (row[1], row[2]) for row in rows}


async def test_one_replica_leases_every_waiting_order_and_renews_only_every_third_of_a_lease(
    db: Store, clock: Clock, world: World, settings: Settings, transactions: list[int]
) -> None:
    orders = await _orders(db, world, 10)
    solo = replica(db, "solo", clock, world, settings)
    transactions.clear()
    assert await solo.run() == {o.upstream_id for o in orders}
    assert transactions == [1]  # the claim: beat, renew, take
    assert set((await _leases(db)).values()) == {("solo", iso(clock() + timedelta(seconds=LEASE)))}
    clock.advance(LEASE / 3 - 1)
    transactions.clear()
    assert len(await solo.run()) == 10
    assert await solo.leases.take([o.id for o in orders]) == {o.id for o in orders}  # (its to deliver)
    assert transactions == []  # a quiet run within a third of the lease writes nothing, nor does holding
    clock.advance(1)
    assert len(await solo.run()) == 10
    assert transactions == [1]  # renewed
    assert set((await _leases(db)).values()) == {("solo", iso(clock() + timedelta(seconds=LEASE)))}


async def test_two_replicas_poll_each_order_once_and_split_them_evenly(
    db: Store, other_db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    orders = await _orders(db, world, 10)
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


async def test_a_dead_replicas_orders_move_to_the_other_within_one_lease(
    db: Store, other_db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    orders = await _orders(db, world, 10)
    a, b = replica(db, "a", clock, world, settings), replica(other_db, "b", clock, world, settings)
    await a.run(), await b.run()
    clock.advance(LEASE / 3)
    await a.run()
    held_b = await b.run()
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
    orders = await _orders(db, world, 10)
    a, b = replica(db, "a", clock, world, settings), replica(other_db, "b", clock, world, settings)
    await a.run(), await b.run()
    clock.advance(LEASE / 3)
    await a.run(), await b.run()
    await b.leases.release()  # b stops gracefully
    assert {owner for owner, _ in (await _leases(db)).values()} == {"a", None}
    assert await a.run() == {o.upstream_id for o in orders}  # at once: no lease to wait out
    async with db.read() as conn:
        assert [row[0] for row in await conn.execute_fetchall("SELECT name FROM replicas")] == ["a"]


async def test_two_replicas_deliver_each_sms_exactly_once_refresh_taps_included(
    db: Store, other_db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    orders = await _orders(db, world, 10)
    a, b = replica(db, "a", clock, world, settings), replica(other_db, "b", clock, world, settings)
    await a.run(), await b.run()
    clock.advance(LEASE / 3)
    await a.run(), await b.run()
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
    orders = await _orders(db, world, 2)
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
    assert (await _leases(db))[held.id][0] == "mine" and (await _leases(db))[loose.id][0] == "mine"


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
    assert (await _leases(db))[result.order.id] == ("placer", iso(clock() + timedelta(seconds=LEASE)))


async def test_a_restart_after_a_crash_polls_at_once_on_sqlite_and_after_the_dead_lease_on_postgresql(
    db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    orders = await _orders(db, world, 4)
    await Leases(db, "crashed", LEASE, clock, sole=False).claim()  # held, then the process was killed
    restarted = replica(db, "restarted", clock, world, settings, sole=None)
    every = {o.upstream_id for o in orders}
    if db.dialect == "sqlite":  # one process per file: the leases can only be a dead process's
        assert restarted.leases.sole and await restarted.run() == every
        return
    assert not restarted.leases.sole and await restarted.run() == set()  # maybe another live replica's
    clock.advance(LEASE + 1)
    assert await restarted.run() == every
