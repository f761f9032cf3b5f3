"""Migration 11: a one-row table the readiness check writes to.

``/readyz`` must see a database that no longer takes a write (a read-only mount, an immutable file, a
full disk). Only a committed write reaches the file, so :meth:`storage.db.Database.probe_write` commits
one to this table, which holds nothing else. A table of its own: no row a person cares about is ever
touched by a health probe.

Shipped: never edit, add a migration instead.
"""

from __future__ import annotations

#: 11: the readiness probe's row
MIGRATION_11 = """
    CREATE TABLE write_probe (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        written_at TEXT NOT NULL
    );
"""
