"""Migration 8: an index of the SMS not yet pushed to their chat.

Every poll run asks which orders hold an SMS not delivered yet (``storage.orders.with_undelivered_sms``).
``order_sms`` keeps every SMS ever received, so without an index that question scans a table that only
grows; this partial index holds only the undelivered rows, almost always none. The query's
``delivered = 0`` implies the index's condition (SQLite's rule for partial indexes).

Shipped: never edit, add a migration instead.
"""

from __future__ import annotations

#: 8: the undelivered-SMS index
MIGRATION_8 = """
    CREATE INDEX order_sms_undelivered ON order_sms(order_id) WHERE delivered = 0;
"""
