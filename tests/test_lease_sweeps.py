"""The unclear sweep beside other replicas (issue 15): an order another live replica holds may still be in that
replica's purchase (its in-flight mark is that process's own), so this replica's sweep leaves it alone until the
lease runs out; then it is resolved as on one process. A renewal may be bought on any replica: at expiry an open
one is settled only past its grace. The replicas and their clock: :mod:`tests.lease_world`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.settings import Settings
from providers.base import Status, UpstreamState
from storage import orders as order_rows
from storage import renewals
from storage.backends import Store
from storage.orders import Order, OrderStatus
from tests.conftest import add_user, charged_order
from tests.lease_world import LEASE, Clock, World, clock, make_orders, other_db, replica, world
from tests.test_bulk_polling import Lister

__all__ = ["clock", "other_db", "world"]  # fixtures

pytestmark = pytest.mark.postgres

USER, PRICE = 701, 59


async def _unknown_order(db: Store) -> Order:
    """An order whose purchase answer was lost (at an upstream with no lookup: the sweep refunds it)."""
    await add_user(db, USER, balance=PRICE)
    async with db.transaction() as conn:
        order = await charged_order(
            conn, user_id=USER, price=PRICE, request_key=f"{USER}:1", provider=Lister.name, country="US",
            service="whatsapp", expires_at=datetime.now(UTC) + timedelta(minutes=20),
        )  # fmt: skip
        unknown = await order_rows.update(
            conn, order.id, expect=(OrderStatus.PENDING,), status=OrderStatus.UNKNOWN, error="timeout"
        )
    assert unknown is not None
    return unknown


async def test_an_unknown_order_another_live_replica_holds_is_left_to_it_until_its_lease_runs_out(
    db: Store, other_db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    order = await _unknown_order(db)
    a, b = replica(db, "a", clock, world, settings), replica(other_db, "b", clock, world, settings)
    await b.leases.claim()  # b is alive ...
    assert await b.leases.take([order.id]) == {order.id}  # ... and holds the order it may still be buying
    late = datetime.now(UTC) + timedelta(hours=1)  # past every grace and patience: only the lease holds it back
    assert await a.tracker.resolve_unclear(late) == []
    still = await a.tracker.orders.get(order.id)
    assert still is not None and still.status is OrderStatus.UNKNOWN
    clock.advance(LEASE + 1)  # b died: its lease ran out
    resolved = await a.tracker.resolve_unclear(late)
    assert [(o.id, o.status) for o in resolved] == [(order.id, OrderStatus.FAILED)]


async def test_an_unknown_order_this_replica_holds_is_resolved_by_its_sweep(
    db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    order = await _unknown_order(db)
    a = replica(db, "a", clock, world, settings)
    await a.leases.claim()
    assert await a.leases.take([order.id]) == {order.id}
    resolved = await a.tracker.resolve_unclear(datetime.now(UTC) + timedelta(hours=1))
    assert [(o.id, o.status) for o in resolved] == [(order.id, OrderStatus.FAILED)]


async def test_with_other_replicas_an_expiring_orders_fresh_renewal_is_left_until_its_grace(
    db: Store, clock: Clock, world: World, settings: Settings
) -> None:
    (order,) = await make_orders(db, world, 1)
    past = datetime.now(UTC) - timedelta(minutes=1)
    async with db.transaction() as conn:  # its time ran out while a renewal is being bought (on any replica)
        await order_rows.update(conn, order.id, expect=(OrderStatus.ACTIVE,), expires_at=past)
        assert await renewals.add(conn, order.id, "renew-1", 30, PRICE)
    world[0][order.upstream_id or ""] = Status(UpstreamState.WAITING, expires_at=past)  # not extended yet
    a = replica(db, "a", clock, world, settings)
    assert await a.tracker.expire_due() == []  # not expired, the renewal not refunded: it may still succeed
    async with db.read() as conn:
        assert (await renewals.get(conn, "renew-1")).status == "pending"  # type: ignore[union-attr]
    expired = await a.tracker.expire_due(datetime.now(UTC) + timedelta(minutes=3))  # past the grace: settled
    assert [o.id for o in expired] == [order.id]
    async with db.read() as conn:
        assert (await renewals.get(conn, "renew-1")).status != "pending"  # type: ignore[union-attr]
