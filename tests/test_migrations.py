"""Migrations: a shipped one never changes the schema it makes, an old database upgrades to the schema
of a fresh one, and an upgrade with open orders gives each its purchase record."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest

from storage import purchases
from storage.db import Database
from storage.migrations import MIGRATIONS, migrate
from storage.timestamps import parse_iso, stored_now

#: sha256 of :func:`schema_text` at each shipped version. A shipped migration ran on users' databases:
#: changing what it makes would leave theirs unlike a fresh one. Add the next version's; never edit one.
SHIPPED = {
    1: "a131dde63374f6c0100275f497f1d985efb21091998bb14949795b0942f19fc3",
    2: "b11aa9a7bc6a908331ff01a3a87ca7238557544969cff590d44bda5f7a30741d",
    3: "02b8475d76db15a5e98dbcba41f8bca64dadc3e96461edb0ef20fe9e05106406",
    4: "699867fa4b8fee1bd51922318cee9824b27f8e81960416f5b8a4182d2a6152ef",
    5: "68935c1cd77a43d20dcbf39413cd827e9838470e98d425b2f26cc5ab0cf7cb0c",
    6: "a502fc1c6c548b6491fae9a4e97a1f689bdbf5004f6369a0843efaf41510032e",
    7: "067d04202c87f13d905f5a0f525ffaf7f4e7808b91c171c31f1f41cab9ded265",
    8: "2d3fe88b9af49895257b318aff3ab1e40e17322a800a59ce37640c35c4c90d3e",
    9: "c1cfd7286a9bdc59c9ca152eb1c6246ad4265ac79488915314b566de03f30010",
    10: "b9311aba4303ca257006e60ecddb0afb99a93b32e430bb32b66f1b11f7f251aa",
    11: "860b30257341d21d03e82e2608301f73f25517568fdeba49c25e9a3de9cd1567",
    12: "c8792287ae47c53eea045097c7532764f10a13bf0587544d7787955c0e5c621c",
}


async def schema_text(conn: aiosqlite.Connection) -> str:
    """Every table, index and trigger with its SQL, whitespace collapsed (SQLite keeps the text as written)."""
    async with conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name") as cur:
        rows = await cur.fetchall()
    return "\n".join(f"{kind} {name} {table} {' '.join((sql or '').split())}" for kind, name, table, sql in rows)


async def test_every_migration_has_a_pinned_schema() -> None:
    assert sorted(SHIPPED) == list(range(1, len(MIGRATIONS) + 1))


@pytest.mark.parametrize("number", sorted(SHIPPED))
async def test_a_shipped_migration_still_makes_the_schema_it_shipped_with(number: int) -> None:
    async with aiosqlite.connect(":memory:", isolation_level=None) as conn:
        assert await migrate(conn, number) == number
        text = await schema_text(conn)
    assert hashlib.sha256(text.encode()).hexdigest() == SHIPPED[number]


@pytest.mark.parametrize("number", range(1, len(MIGRATIONS)))
async def test_an_old_database_upgrades_to_the_schema_of_a_fresh_one(tmp_path: Path, number: int) -> None:
    async with aiosqlite.connect(tmp_path / "old.sqlite3", isolation_level=None) as conn:
        await migrate(conn, number)
        await conn.execute("INSERT INTO users (id, balance) VALUES (7, 100)")
    schemas = []
    for name in ("old.sqlite3", "fresh.sqlite3"):
        db = await Database.open(tmp_path / name)
        try:
            async with db.read() as conn:
                async with conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name") as cur:
                    schemas.append([tuple(row) for row in await cur.fetchall()])
                async with conn.execute("PRAGMA user_version") as cur:
                    assert (await cur.fetchone())[0] == len(MIGRATIONS)
        finally:
            await db.close()
    old, fresh = schemas
    assert old == fresh


async def test_stamps_passed_from_python_have_the_form_of_the_column_defaults() -> None:
    """Queries pass the time (``stored_now``) where they once asked SQLite: both must compare alike."""
    async with aiosqlite.connect(":memory:") as conn:
        async with conn.execute("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')") as cur:
            row = await cur.fetchone()
    assert row is not None
    default, stamp = row[0], stored_now()
    form = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.fullmatch(form, default) and re.fullmatch(form, stamp)
    assert abs(parse_iso(stamp) - parse_iso(default)) < timedelta(seconds=5)
    moment = datetime(2024, 5, 1, 12, 34, 56, 789999, tzinfo=UTC)
    assert stored_now(moment) == "2024-05-01T12:34:56.789Z"


async def test_orders_open_at_the_upgrade_get_their_purchase_record(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    async with aiosqlite.connect(path, isolation_level=None) as conn:  # a shop as of migration 4
        await migrate(conn, 4)
        await conn.execute("INSERT INTO users (id, balance) VALUES (7, 0)")
        for order_id, status, upstream in ((1, "active", "a1"), (2, "code_received", "a2"), (3, "completed", "a3")):
            await conn.execute(
                "INSERT INTO orders (id, user_id, request_key, status, provider, upstream_id, country, service, "
                "price, cost, cost_currency, expires_at) VALUES (?, 7, ?, ?, 'sa', ?, 'US', 'whatsapp', 50, 30, "
                "'USD', '2030-01-01T00:00:00.000Z')",
                (order_id, f"k{order_id}", status, upstream),
            )
    db = await Database.open(path)
    try:
        async with db.read() as conn:
            active, received, completed = [await purchases.of_order(conn, n) for n in (1, 2, 3)]
    finally:
        await db.close()
    assert [(p.upstream_id, p.cost, p.outcome) for p in active] == [("a1", 30, None)]
    assert [(p.upstream_id, p.outcome) for p in received] == [("a2", purchases.Outcome.SOLD)]
    assert completed == []  # closed before the upgrade: the audit reads its cost from the order
