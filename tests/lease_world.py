"""Two replicas' services on one database, for the lease tests (:mod:`tests.test_leases`,
:mod:`tests.test_lease_delivery`).

"Replicas" are two sets of services, each with its own lease name: on PostgreSQL on two stores (two pools) of
one database; on SQLite on the one store of its one process, told it is not alone (``sole=False``: the bot's
SQLite process is, and takes every lease), so the same lease rules are checked on both. Time is a clock the
test moves, shared by both; which replica polled an order is counted in its own upstream's checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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
from storage.orders import Order
from storage.postgres import PostgresDatabase
from tests.order_services import order_service
from tests.test_bulk_polling import Lister, waiting_orders

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


async def make_orders(db: Store, world: World, n: int) -> list[Order]:
    upstream = Lister()
    upstream.statuses = world[0]
    return await waiting_orders(db, upstream, n)


async def two_replicas(
    db: Store, other_db: Store, clock: Clock, world: World, settings: Settings
) -> tuple[list[Order], Replica, Replica, set[str]]:
    """Ten waiting orders, and replicas a and b that have each run twice a third of a lease apart: by the
    second run each saw the other's heartbeat, so the orders are split. Also the ids b asked about then."""
    orders = await make_orders(db, world, 10)
    a, b = replica(db, "a", clock, world, settings), replica(other_db, "b", clock, world, settings)
    await a.run(), await b.run()
    clock.advance(LEASE / 3)
    await a.run()
    return orders, a, b, await b.run()


async def lease_rows(db: Store) -> dict[int, tuple[str | None, str | None]]:
    async with db.read() as conn:
        rows = await conn.execute_fetchall("SELECT id, lease_owner, lease_until FROM orders ORDER BY id")
    return {row[0]: (row[1], row[2]) for row in rows}
