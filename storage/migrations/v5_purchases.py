"""Migration 5, the operator's side of the money. Shipped: never edit, add a migration instead."""

from __future__ import annotations

#: 5: what every upstream purchase ended in, refund terms per order, unclear renewals, and Stars
#: payments kept before they are credited (received) or when they are not (rejected)
MIGRATION_5 = """
    ALTER TABLE orders ADD COLUMN refundable INTEGER NOT NULL DEFAULT 1 CHECK (refundable IN (0, 1));
    CREATE TABLE upstream_purchases (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id INTEGER NOT NULL REFERENCES orders(id),
        user_id INTEGER NOT NULL REFERENCES users(id),
        kind TEXT NOT NULL CHECK (kind IN ('number', 'renewal')),
        provider TEXT NOT NULL,
        upstream_id TEXT,                          -- NULL: an unclear purchase that was never found
        reference TEXT NOT NULL UNIQUE,            -- one record per upstream purchase
        cost INTEGER CHECK (cost IS NULL OR (typeof(cost) = 'integer' AND cost >= 0)),
        cost_currency TEXT,
        outcome TEXT CHECK (outcome IS NULL OR outcome IN ('sold', 'upstream_refunded', 'written_off')),
        reason TEXT,                               -- why it was written off
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        settled_at TEXT,
        CHECK ((outcome = 'written_off') = (reason IS NOT NULL))
    );
    CREATE INDEX upstream_purchases_order ON upstream_purchases(order_id);
    CREATE INDEX upstream_purchases_open ON upstream_purchases(id) WHERE outcome IS NULL;
    CREATE INDEX upstream_purchases_user ON upstream_purchases(user_id, outcome, settled_at);
    CREATE TRIGGER upstream_purchases_one_outcome BEFORE UPDATE OF outcome, reason, cost ON upstream_purchases
        WHEN OLD.outcome IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'an upstream purchase has exactly one outcome'); END;
    CREATE TRIGGER upstream_purchases_no_delete BEFORE DELETE ON upstream_purchases
        BEGIN SELECT RAISE(ABORT, 'upstream purchases are kept'); END;
    -- orders open at the upgrade get their purchase record, so they too end in one outcome
    INSERT INTO upstream_purchases (order_id, user_id, kind, provider, upstream_id, reference, cost,
                                    cost_currency, outcome, settled_at)
        SELECT id, user_id, 'number', provider, upstream_id, 'order:' || id || ':' || provider || ':' || upstream_id,
               cost, cost_currency, CASE WHEN status = 'code_received' THEN 'sold' END,
               CASE WHEN status = 'code_received' THEN updated_at END
        FROM orders WHERE upstream_id IS NOT NULL AND status IN ('active', 'code_received');

    CREATE TABLE order_renewals_v5 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id INTEGER NOT NULL REFERENCES orders(id),
        reference TEXT NOT NULL UNIQUE,            -- the ledger reference of its charge
        days INTEGER NOT NULL CHECK (days > 0),
        price INTEGER NOT NULL CHECK (price > 0),
        status TEXT NOT NULL CHECK (status IN ('pending', 'unknown', 'done', 'refunded')),
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    INSERT INTO order_renewals_v5 SELECT id, order_id, reference, days, price, status, created_at FROM order_renewals;
    DROP TABLE order_renewals;
    ALTER TABLE order_renewals_v5 RENAME TO order_renewals;

    CREATE TABLE payments_v5 (
        charge_id TEXT PRIMARY KEY,              -- telegram_payment_charge_id: credited at most once
        user_id INTEGER NOT NULL REFERENCES users(id),
        payload TEXT NOT NULL,
        stars INTEGER NOT NULL CHECK (stars > 0),
        amount INTEGER NOT NULL CHECK (typeof(amount) = 'integer' AND amount >= 0),  -- to credit; 0 if rejected
        status TEXT NOT NULL CHECK (status IN ('received', 'credited', 'rejected', 'refunding', 'refunded')),
        error TEXT,                              -- why it was rejected, or why crediting failed
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    INSERT INTO payments_v5 (charge_id, user_id, payload, stars, amount, status, created_at)
        SELECT charge_id, user_id, payload, stars, amount, status, created_at FROM payments;
    DROP TABLE payments;
    ALTER TABLE payments_v5 RENAME TO payments;
    CREATE INDEX payments_status ON payments(status) WHERE status IN ('received', 'rejected', 'refunding');
    """
