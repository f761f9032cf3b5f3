"""Migrations 1 and 2, the shop itself: users, the append-only ledger, orders and their SMS; then rentals
and the operator's price overrides. Shipped: never edit, add a migration instead.
"""

from __future__ import annotations

#: 1: users, the append-only ledger, orders and their SMS
MIGRATION_1 = """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,                 -- Telegram user id
        username TEXT,
        first_name TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT 'en',
        balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),  -- cache of SUM(ledger.amount)
        is_banned INTEGER NOT NULL DEFAULT 0,
        is_blocked INTEGER NOT NULL DEFAULT 0,   -- the user blocked the bot
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        last_seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE ledger (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(id),
        amount INTEGER NOT NULL CHECK (amount != 0),  -- minor units; + credit, - debit
        balance_after INTEGER NOT NULL CHECK (balance_after >= 0),
        kind TEXT NOT NULL,                      -- topup, purchase, refund, admin_credit, ...
        reference TEXT NOT NULL UNIQUE,          -- makes every credit/refund happen at most once
        order_id INTEGER REFERENCES orders(id),
        actor_id INTEGER,                        -- admin who made a manual entry
        reason TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX ledger_user ON ledger(user_id, id);
    CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
        BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;
    CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
        BEGIN SELECT RAISE(ABORT, 'ledger is append-only'); END;
    CREATE TABLE orders (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(id),
        request_key TEXT NOT NULL UNIQUE,         -- one order per Confirm screen, however many taps
        status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'code_received', 'completed',
                                               'cancelled', 'expired', 'failed', 'unknown')),
        provider TEXT NOT NULL,
        upstream_id TEXT,
        phone TEXT,
        country TEXT NOT NULL,
        service TEXT NOT NULL,
        price INTEGER NOT NULL CHECK (price > 0),  -- charged to the user, bot currency minor units
        cost INTEGER,                              -- paid upstream, upstream currency minor units
        cost_currency TEXT,
        chat_id INTEGER,
        card_message_id INTEGER,                   -- the order card to keep up to date
        error TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        expires_at TEXT NOT NULL
    );
    CREATE INDEX orders_user ON orders(user_id, id);
    CREATE INDEX orders_open ON orders(status) WHERE status IN ('pending', 'active', 'code_received',
                                                                'unknown');
    CREATE TABLE order_sms (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id INTEGER NOT NULL REFERENCES orders(id),
        text TEXT NOT NULL,
        code TEXT,
        sender TEXT,
        fingerprint TEXT NOT NULL,                 -- dedupes the same SMS seen on every poll
        received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        delivered INTEGER NOT NULL DEFAULT 0,      -- pushed to the user's chat
        UNIQUE (order_id, fingerprint)
    );
    """

#: 2: what routing needs to look a purchase up again, rentals, and the operator's price overrides
MIGRATION_2 = """
    ALTER TABLE orders ADD COLUMN product_id TEXT;
    ALTER TABLE orders ADD COLUMN rent_days INTEGER;
    CREATE TABLE price_overrides (
        service TEXT NOT NULL,
        country TEXT NOT NULL,
        price INTEGER NOT NULL CHECK (price > 0),
        updated_by INTEGER,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (service, country)
    );
    CREATE TABLE order_renewals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id INTEGER NOT NULL REFERENCES orders(id),
        reference TEXT NOT NULL UNIQUE,            -- the ledger reference of its charge
        days INTEGER NOT NULL CHECK (days > 0),
        price INTEGER NOT NULL CHECK (price > 0),
        status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'refunded')),
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    """
