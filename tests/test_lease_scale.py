"""What order leases cost at scale (issue 15): a claim over thousands of free orders takes them in chunks, one
short write transaction each, so a purchase commits between them instead of waiting seconds behind one; a
replica's poll run reads only the orders it holds, so two replicas each read half.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.orders import polling
from bot.orders.leases import Leases
from bot.settings import Settings
from storage import leases as lease_sql
from storage import waiting_orders
from storage.backends import Store
from storage.orders import OrderStatus
from storage.timestamps import iso
from tests.lease_world import LEASE, Clock, World, clock, make_orders, other_db, replica, world

__all__ = ["clock", "other_db", "world"]  # fixtures

pytestmark = pytest.mark.postgres

FREE = 3000
CHUNK = 500


async def free_orders(db: Store, count: int) -> None:
    """``count`` active orders nobody holds, written in bulk (what is tested is the claim, not the purchases)."""
    expires = iso(datetime.now(UTC) + timedelta(minutes=20))
    rows = [(1, f"scale:{i}", OrderStatus.ACTIVE, f"s{i}", expires) for i in range(count)]
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO users (id, balance) VALUES (1, 0)")
        await conn.executemany(
            "INSERT INTO orders (user_id, request_key, status, provider, upstream_id, phone, country, service,"
            " price, expires_at) VALUES (?, ?, ?, 'checker', ?, '+10000000000', 'US', 'whatsapp', 50, ?)",
            rows,
        )


async def test_a_claim_of_thousands_of_free_orders_writes_a_chunk_per_transaction_and_lets_a_purchase_in(
    db: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await free_orders(db, FREE)
    leases = Leases(db, "big", LEASE, clock, sole=False)
    leases.chunk = CHUNK
    events: list[str] = []
    started = asyncio.Event()
    real_take = lease_sql.take

    async def take(*args: object) -> list[int]:
        taken = await real_take(*args)  # type: ignore[arg-type]
        events.append(f"take {len(taken)}")
        started.set()
        await asyncio.sleep(0)  # (a purchase waiting for the write lock gets its turn only between transactions)
        return taken

    monkeypatch.setattr(lease_sql, "take", take)

    async def purchase() -> None:
        await started.wait()  # once the claim is under way
        async with db.transaction() as conn:
            await conn.execute("UPDATE users SET balance = balance + 1 WHERE id = 1")
        events.append("purchase")

    held, _ = await asyncio.gather(leases.claim(), purchase())
    assert held == FREE
    takes = [int(e.split()[1]) for e in events if e.startswith("take")]
    assert sum(takes) == FREE and max(takes) <= CHUNK  # never one transaction writing every order
    assert events.index("purchase") < len(events) - 1  # it committed while the claim still had orders to take


async def test_a_replica_beats_instead_of_writing_every_order_it_holds(db: Store, clock: Clock) -> None:
    await free_orders(db, FREE)
    leases = Leases(db, "big", LEASE, clock, sole=False)
    assert await leases.claim() == FREE
    async with db.read() as conn:
        before = await conn.execute_fetchall("SELECT id, lease_owner, lease_until FROM orders ORDER BY id")
    clock.advance(LEASE - 1)
    await leases.renew()
    clock.advance(LEASE / 2)  # past every order's takeover time, but the holder beat: still its own
    other = Leases(db, "other", LEASE, clock, sole=False)
    assert await other.claim() == 0  # share 1,500 each, but nothing is free
    async with db.read() as conn:
        assert [tuple(r) for r in await conn.execute_fetchall(
            "SELECT id, lease_owner, lease_until FROM orders ORDER BY id"
        )] == [tuple(r) for r in before]  # fmt: skip


async def test_a_replicas_poll_run_reads_only_the_orders_it_holds(
    db: Store, other_db: Store, clock: Clock, world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_orders(db, world, 10)
    a, b = replica(db, "a", clock, world, settings), replica(other_db, "b", clock, world, settings)
    await a.run(), await b.run()
    clock.advance(LEASE / 3)
    await a.run(), await b.run()  # a gave up half, b took it
    read: list[int] = []
    real = waiting_orders.waiting

    async def counted(conn: object, owner: str | None = None) -> list[waiting_orders.Waiting]:
        rows = await real(conn, owner)  # type: ignore[arg-type]
        read.append(len(rows))
        return rows

    monkeypatch.setattr(polling.waiting_orders, "waiting", counted)
    clock.advance(1)
    assert (len(await a.run()), len(await b.run())) == (5, 5)
    assert read == [5, 5]  # each run read its half, not all 10
