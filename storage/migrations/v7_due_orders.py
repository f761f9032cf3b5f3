"""Migration 7: an index of the orders the expire job looks at, by when they run out.

The expire job asks every few seconds for active orders (with or without a code) whose time ran out.
Through ``orders_open`` it read every open order to keep the few that were due; this partial index holds
only active and code-received orders, ordered by ``expires_at``, so the job reads the due ones and stops.
``storage.orders.due_orders`` repeats its condition word for word (SQLite's rule for partial indexes).

Shipped: never edit, add a migration instead.
"""

from __future__ import annotations

#: 7: the due-order index
MIGRATION_7 = """
    CREATE INDEX orders_due ON orders(expires_at) WHERE status IN ('active', 'code_received');
"""
