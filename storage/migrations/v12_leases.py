"""Migration 12: leases, so that several replicas sharing one PostgreSQL database split the work.

- ``orders.lease_owner`` / ``lease_until``: the replica that polls an open order, and the time it took it
  plus one lease period. The lease holds while its owner beats its ``replicas`` row (one write per
  replica, not one per order); once the owner has not been seen for ``LEASE_SECONDS``, and ``lease_until``
  has passed, the others take its orders.
- ``broadcasts.lease_owner`` / ``lease_until``: the same for a running broadcast, so one replica sends it
  and another resumes it if that one dies.
- ``replicas``: each live replica's last sign of life, so each takes its share of the open orders.
- ``orders_lease_owner``: the waiting orders one replica holds (its poll run reads only those; a claim counts,
  takes free ones and gives up its own through it), without reading every open order.

SQLite runs one process, which holds every lease; the columns cost it nothing. Times are ISO text in UTC
(:mod:`storage.timestamps`), as everywhere.

Shipped: never edit, add a migration instead.
"""

from __future__ import annotations

#: 12: order and broadcast leases, live replicas (SQLite)
MIGRATION_12 = """
    ALTER TABLE orders ADD COLUMN lease_owner TEXT;
    ALTER TABLE orders ADD COLUMN lease_until TEXT;
    ALTER TABLE broadcasts ADD COLUMN lease_owner TEXT;
    ALTER TABLE broadcasts ADD COLUMN lease_until TEXT;
    CREATE TABLE replicas (
        name TEXT PRIMARY KEY,
        seen_at TEXT NOT NULL
    );
    CREATE INDEX orders_lease_owner ON orders(lease_owner, id) WHERE status IN ('active', 'code_received');
"""

#: 12 in PostgreSQL: the same statements, valid in both dialects (a later migration may need two texts)
POSTGRES_12 = MIGRATION_12
