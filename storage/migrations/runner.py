"""Applies the numbered migrations in order, each in its own transaction, tracked in ``PRAGMA user_version``.

SQLite only (``executescript``, ``PRAGMA user_version``): PostgreSQL's is :mod:`storage.migrations.postgres`.
"""

from __future__ import annotations

import logging

import aiosqlite

from storage.migrations.v1_v2_shop import MIGRATION_1, MIGRATION_2
from storage.migrations.v3_v4_operator import MIGRATION_3, MIGRATION_4
from storage.migrations.v5_purchases import MIGRATION_5
from storage.migrations.v6_money_bounds import MIGRATION_6
from storage.migrations.v7_due_orders import MIGRATION_7
from storage.migrations.v8_undelivered_sms import MIGRATION_8
from storage.migrations.v9_language_choice import MIGRATION_9
from storage.migrations.v10_shop_features import MIGRATION_10
from storage.migrations.v11_write_probe import MIGRATION_11
from storage.migrations.v12_leases import MIGRATION_12

logger = logging.getLogger(__name__)

#: every migration, in order: ``MIGRATIONS[n - 1]`` takes a database from version ``n - 1`` to ``n``
MIGRATIONS: list[str] = [
    MIGRATION_1,
    MIGRATION_2,
    MIGRATION_3,
    MIGRATION_4,
    MIGRATION_5,
    MIGRATION_6,
    MIGRATION_7,
    MIGRATION_8,
    MIGRATION_9,
    MIGRATION_10,
    MIGRATION_11,
    MIGRATION_12,
]


async def version(conn: aiosqlite.Connection) -> int:
    """The database's schema version: how many migrations it has run."""
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(conn: aiosqlite.Connection, target: int | None = None) -> int:
    """Apply every migration newer than the database, up to ``target`` (all when None); returns the
    resulting version. Each one commits with its version number, or rolls back whole."""
    target = len(MIGRATIONS) if target is None else target
    start = await version(conn)
    for number, script in enumerate(MIGRATIONS[start:target], start=start + 1):
        logger.info("applying migration %d", number)
        try:
            await conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
        except Exception:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
    return target
