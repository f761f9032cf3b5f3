"""The PostgreSQL schema by version, and its runner.

PostgreSQL shops start at version 11 (the baseline, :mod:`storage.migrations.postgres_v11`: SQLite's schema
after ``MIGRATIONS[:11]``); a later migration ships in both dialects, as ``POSTGRES[n]``. The version lives
in ``schema_version``; a database at any earlier PostgreSQL version steps through every later one.

Two replicas starting at once: the runner holds an advisory lock, so one migrates and the other waits.
"""

from __future__ import annotations

import logging

import asyncpg

from storage.migrations.postgres_v11 import BASELINE
from storage.migrations.v12_leases import POSTGRES_12

logger = logging.getLogger(__name__)

#: the advisory lock key taken while migrating (any constant; "smsbot" in ASCII)
MIGRATION_LOCK = 0x736D73626F74

#: the PostgreSQL schema by version: ``POSTGRES[11]`` is the baseline; a later migration adds its number
POSTGRES: dict[int, str] = {11: BASELINE, 12: POSTGRES_12}


async def version(conn: asyncpg.Connection) -> int:
    """The schema version, 0 for an empty database."""
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    return int(await conn.fetchval("SELECT version FROM schema_version")) if exists else 0


async def migrate_postgres(conn: asyncpg.Connection) -> int:
    """Bring the database to the newest version, each step in its own transaction; returns that version."""
    newest = max(POSTGRES)
    await conn.execute("SET lock_timeout = 0")  # a replica waits out another's migration, however long
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        current = await version(conn)
        if current > newest:
            raise RuntimeError(f"the database is at schema version {current}, newer than this bot's {newest}")
        for number in sorted(POSTGRES):
            if number <= current:
                continue
            logger.info("applying PostgreSQL schema version %d", number)
            async with conn.transaction():
                await conn.execute(POSTGRES[number])
                if not current:  # the baseline: the version table comes with it
                    await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                    await conn.execute("INSERT INTO schema_version VALUES (0)")
                await conn.execute("UPDATE schema_version SET version = $1", number)
            current = number
        return await version(conn)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        await conn.execute("RESET lock_timeout")
