"""The poll job's and the expire job's queries go through an index, and the expire job reads only due orders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite
import pytest

from storage import orders as order_rows
from storage.db import Database
from storage.orders import OPEN, OPEN_SQL, OrderStatus, iso
from tests import backend

pytestmark = pytest.mark.postgres

#: the plan tests read SQLite's EXPLAIN QUERY PLAN; PostgreSQL has the same indexes (tests/test_pg_schema.py)
sqlite_plan = pytest.mark.skipif(backend.ON_POSTGRES, reason="SQLite's query planner")

NOW = datetime(2030, 1, 1, tzinfo=UTC)


async def plan(conn: aiosqlite.Connection, query: Callable[[], Awaitable[Any]]) -> list[str]:
    """What SQLite does for the statement ``query`` runs, with the parameters it binds."""
    ran: list[str] = []
    await conn.set_trace_callback(ran.append)
    try:
        await query()
    finally:
        await conn.set_trace_callback(None)
    (sql,) = ran
    async with conn.execute(f"EXPLAIN QUERY PLAN {sql}") as cur:
        return [row[3] for row in await cur.fetchall()]


async def seed(db: Database) -> None:
    """Every status, one order each due and not yet due, among older closed ones."""
    closed = [("completed", NOW - timedelta(days=1))] * 50
    kinds = [(status, NOW + ahead) for status in OrderStatus for ahead in (-timedelta(seconds=1), timedelta(minutes=5))]
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO users (id) VALUES (1)")
        for number, (status, expires) in enumerate(closed + kinds):
            await conn.execute(
                "INSERT INTO orders (user_id, request_key, status, provider, country, service, price, expires_at)"
                " VALUES (1, ?, ?, 'up', 'US', 'whatsapp', 10, ?)",
                (f"k{number}", status, iso(expires)),
            )


def test_the_open_condition_is_the_index_condition() -> None:
    assert OPEN_SQL == "status IN (" + ", ".join(f"'{status}'" for status in OPEN) + ")"


@pytest.mark.parametrize(
    "statuses",
    [OPEN, (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED), (OrderStatus.PENDING, OrderStatus.UNKNOWN)],
)
@sqlite_plan
async def test_open_orders_use_the_open_index(db: Database, statuses: tuple[OrderStatus, ...]) -> None:
    await seed(db)
    async with db.read() as conn:
        steps = await plan(conn, lambda: order_rows.open_orders(conn, statuses))
        found = await order_rows.open_orders(conn, statuses)
    assert any("USING INDEX orders_open" in step for step in steps), steps
    assert [o.status for o in found] == [s for s in OrderStatus if s in statuses for _ in "ab"]
    assert [o.id for o in found] == sorted(o.id for o in found)


async def test_any_statuses_still_answer(db: Database) -> None:
    await seed(db)
    async with db.read() as conn:
        found = await order_rows.open_orders(conn, tuple(OrderStatus))
    assert len(found) == 50 + 2 * len(OrderStatus)


@sqlite_plan
async def test_due_orders_read_only_due_active_ones_through_an_index(db: Database) -> None:
    await seed(db)
    async with db.read() as conn:
        steps = await plan(conn, lambda: order_rows.due_orders(conn, iso(NOW)))
        due = await order_rows.due_orders(conn, iso(NOW))
    assert any("USING INDEX orders_due (expires_at<?)" in step for step in steps), steps
    assert not any(step.startswith("SCAN") for step in steps), steps
    assert [o.status for o in due] == [OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED]
    assert all(o.expires_at <= NOW for o in due)


@sqlite_plan
async def test_undelivered_sms_are_found_through_their_index_not_a_scan_of_every_sms(db: Database) -> None:
    await seed(db)
    async with db.transaction() as conn:
        ids = [row[0] for row in await conn.execute_fetchall("SELECT id FROM orders ORDER BY id LIMIT 3")]
        for n, order_id in enumerate(ids):  # the first two delivered long ago, the third waiting
            await conn.execute(
                "INSERT INTO order_sms (order_id, text, fingerprint, delivered) VALUES (?, 'code 1', ?, ?)",
                (order_id, f"f{n}", int(n < 2)),
            )
    async with db.read() as conn:
        steps = await plan(conn, lambda: order_rows.with_undelivered_sms(conn))
        found = await order_rows.with_undelivered_sms(conn)
    assert any("order_sms USING INDEX order_sms_undelivered" in step for step in steps), steps
    assert [o.id for o in found] == ids[2:]
