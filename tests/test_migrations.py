"""Upgrading a database with open orders: each gets its purchase record, so it too ends in one outcome."""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from storage import purchases
from storage.db import Database
from storage.migrations import MIGRATIONS


async def test_orders_open_at_the_upgrade_get_their_purchase_record(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    async with aiosqlite.connect(path, isolation_level=None) as conn:  # a shop as of migration 4
        for number, script in enumerate(MIGRATIONS[:4], start=1):
            await conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
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
