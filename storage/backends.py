"""Which database a bot runs on: SQLite (one file, one process) or PostgreSQL (shared by replicas).

:data:`Store` is what the services hold; both kinds offer the same ``transaction()``, ``read()``,
``probe_write()`` and ``singleton(name)``, and hand the query modules a connection that runs the same SQL.
"""

from __future__ import annotations

from pathlib import Path

from storage.db import Database
from storage.postgres import PostgresDatabase

Store = Database | PostgresDatabase


async def open_store(path: Path, postgres_url: str | None = None, *, pool_size: int = 10) -> Store:
    """PostgreSQL at ``postgres_url`` when given, else the SQLite file at ``path``; migrated either way."""
    if postgres_url:
        return await PostgresDatabase.open(postgres_url, pool_size=pool_size)
    return await Database.open(path)
