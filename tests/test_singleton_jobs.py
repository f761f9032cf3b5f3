"""Jobs that must not run twice at once (issue 15): with replicas on one PostgreSQL database, the expire sweep, the
Stars credit retry and the upstream alerts run on one replica at a time, the others skip that run; with SQLite's
one process they always run. A stopping replica frees its order leases, and a failure to do so never stops the
shutdown.

Two replicas are two stores (pools) of one PostgreSQL database; SQLite has one process, so the cases of two are
skipped there (what one replica does is tested on both).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from bot.jobs import Jobs
from bot.money.pricing import Pricing
from bot.notifications import Alert, Notifications
from bot.orders.actions import OrderActions
from bot.orders.leases import Leases
from bot.orders.tracking import Tracker
from bot.settings import Settings
from providers.base import Status
from providers.catalog import Catalog
from storage.backends import Store
from storage.orders import Order, OrderStatus
from storage.postgres import PostgresDatabase
from storage.timestamps import iso
from tests.order_services import order_service
from tests.test_bulk_polling import Lister, waiting_orders
from tests.test_leases import LEASE, Checker, Clock

pytestmark = pytest.mark.postgres


class Gated(Checker):
    """The shared upstream, answering a check only once the test opens the gate."""

    def __init__(self, statuses: dict[str, Status], gate: asyncio.Event) -> None:
        super().__init__(statuses)
        self.gate = gate
        self.asked = asyncio.Event()  # a first check came in

    async def check(self, upstream_id: str) -> Status:
        self.checked.append(upstream_id)
        self.asked.set()
        await self.gate.wait()
        return self.statuses[upstream_id]


class Told:
    """The Notifications port: which orders were delivered, which alerts sent."""

    def __init__(self) -> None:
        self.delivered: list[int] = []
        self.alerts: list[Alert] = []

    async def deliver(self, order: Order) -> None:
        self.delivered.append(order.id)

    async def alert(self, alert: Alert) -> bool:
        self.alerts.append(alert)
        return True


class Counted:
    """Payments or Upstreams, counting the runs they are asked for."""

    def __init__(self) -> None:
        self.runs = 0

    async def retry(self, notifications: Notifications) -> None:
        self.runs += 1

    async def check(self, notifications: Notifications) -> None:
        self.runs += 1


def jobs_on(db: Store, upstream: Checker, settings: Settings, name: str = "r") -> tuple[Jobs, Told, Counted]:
    """One replica's jobs on ``db``: its tracker at ``upstream``, a counted credit retry and upstream check."""
    orders = order_service(db, Catalog([upstream]), Pricing(settings), timedelta(minutes=20))
    orders.leases = Leases(db, name, LEASE, Clock())
    told, counted = Told(), Counted()
    tracker = Tracker(orders, OrderActions(orders), 4)
    jobs = Jobs(tracker, told, cast(Any, counted), cast(Any, counted), cast(Any, None), settings)
    return jobs, told, counted


async def _due_orders(db: Store, statuses: dict[str, Status], n: int) -> list[Order]:
    """``n`` orders waiting for SMS whose time ran out a minute ago."""
    orders = await waiting_orders(db, _lister(statuses), n)
    async with db.transaction() as conn:
        await conn.execute("UPDATE orders SET expires_at = ?", (iso(datetime.now(UTC) - timedelta(minutes=1)),))
    return orders


@pytest.fixture
async def other_store(database_url: str | None) -> AsyncIterator[Store]:
    """A second replica's store (a pool of its own) on the test's PostgreSQL database; skipped on SQLite."""
    if database_url is None:
        pytest.skip("two replicas need PostgreSQL: SQLite is one process")
    second = await PostgresDatabase.open(database_url, pool_size=4)
    yield second
    await second.close()


async def test_two_replicas_running_the_expire_sweep_at_once_sweep_once(
    db: Store,
    other_store: Store,
    settings: Settings,
) -> None:
    statuses: dict[str, Status] = {}
    orders = await _due_orders(db, statuses, 4)
    gate = asyncio.Event()
    first, second = Gated(statuses, gate), Gated(statuses, gate)
    (jobs_a, told_a, _), (jobs_b, told_b, _) = (
        jobs_on(db, first, settings, "a"),
        jobs_on(other_store, second, settings, "b"),
    )
    sweeping = asyncio.create_task(jobs_a.expire())
    async with asyncio.timeout(10):
        await first.asked.wait()  # a is in its sweep, waiting on the upstream
    async with asyncio.timeout(10):  # (a b that swept too would wait on the gate: this fails instead of hanging)
        await jobs_b.expire()  # at the same time: b finds the sweep taken and skips this run
    assert second.checked == [] and told_b.delivered == []
    gate.set()
    await sweeping
    assert sorted(first.checked) == sorted(o.upstream_id for o in orders)  # each due order looked at once
    assert sorted(told_a.delivered) == [o.id for o in orders]
    await jobs_b.expire()  # a's run ended: the lock is free, and nothing is left to expire
    assert second.checked == [] and told_b.delivered == []
    for order in orders:
        got = await jobs_a.tracker.orders.get(order.id)
        assert got is not None and got.status is OrderStatus.EXPIRED


async def test_the_credit_retry_and_the_upstream_alerts_skip_a_run_another_replica_is_making(
    db: Store,
    other_store: Store,
    settings: Settings,
) -> None:
    jobs, _, counted = jobs_on(db, Checker({}), settings)
    async with other_store.singleton("stars_credit_retry") as held, other_store.singleton("upstream_alerts") as also:
        assert held and also
        await jobs.retry_credits()
        await jobs.upstream_alerts()
        assert counted.runs == 0
    await jobs.retry_credits()
    await jobs.upstream_alerts()
    assert counted.runs == 2


async def test_one_replica_runs_every_one_replica_job(db: Store, settings: Settings) -> None:
    statuses: dict[str, Status] = {}
    orders = await _due_orders(db, statuses, 3)
    gate = asyncio.Event()
    gate.set()
    jobs, told, counted = jobs_on(db, Gated(statuses, gate), settings)
    await jobs.expire()
    await jobs.retry_credits()
    await jobs.upstream_alerts()
    assert (sorted(told.delivered), counted.runs) == ([o.id for o in orders], 2)


async def test_a_stop_frees_the_replicas_leases_and_a_failure_to_never_stops_the_shutdown(
    db: Store, settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    statuses: dict[str, Status] = {}
    await waiting_orders(db, _lister(statuses), 3)
    jobs, _, _ = jobs_on(db, Checker(statuses), settings, "stopping")
    await jobs.poll()
    async with db.read() as conn:
        owners = [row[0] for row in await conn.execute_fetchall("SELECT lease_owner FROM orders")]
    assert owners == ["stopping"] * 3
    await jobs.release()
    async with db.read() as conn:
        owners = [row[0] for row in await conn.execute_fetchall("SELECT lease_owner FROM orders")]
    assert owners == [None] * 3

    async def gone() -> int:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(jobs.tracker.leases, "release", gone)
    with caplog.at_level(logging.WARNING, logger="bot.jobs"):
        await jobs.release()
    assert "order leases not released" in caplog.text


def _lister(statuses: dict[str, Status]) -> Lister:
    lister = Lister()
    lister.statuses = statuses
    return lister
