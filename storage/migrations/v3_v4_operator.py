"""Migrations 3 and 4, the operator's tools: Stars payments, promo codes, the admin action log, broadcasts,
run-time settings; then one order per upstream number. Shipped: never edit, add a migration instead.
"""

from __future__ import annotations

#: 3: Stars payments, promo codes, the admin action log, broadcasts with per-recipient state
MIGRATION_3 = """
    CREATE TABLE payments (
        charge_id TEXT PRIMARY KEY,              -- telegram_payment_charge_id: credited at most once
        user_id INTEGER NOT NULL REFERENCES users(id),
        payload TEXT NOT NULL,
        stars INTEGER NOT NULL CHECK (stars > 0),
        amount INTEGER NOT NULL CHECK (amount > 0),  -- credited, bot currency minor units
        status TEXT NOT NULL CHECK (status IN ('credited', 'refunding', 'refunded')),
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE promo_codes (
        code TEXT PRIMARY KEY,
        amount INTEGER NOT NULL CHECK (amount > 0),
        max_uses INTEGER NOT NULL CHECK (max_uses > 0),
        uses INTEGER NOT NULL DEFAULT 0 CHECK (uses <= max_uses),
        expires_at TEXT,
        created_by INTEGER,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE promo_uses (
        code TEXT NOT NULL REFERENCES promo_codes(code),
        user_id INTEGER NOT NULL REFERENCES users(id),
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (code, user_id)
    );
    CREATE TABLE admin_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        admin_id INTEGER NOT NULL,
        action TEXT NOT NULL,
        details TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE broadcasts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        admin_id INTEGER NOT NULL,
        from_chat_id INTEGER NOT NULL,           -- the admin's message, sent with copyMessage
        message_id INTEGER NOT NULL,
        button_text TEXT,
        button_url TEXT,
        audience TEXT NOT NULL,                  -- all | active:<days> | balance | buyers
        status TEXT NOT NULL CHECK (status IN ('draft', 'running', 'cancelled', 'done')),
        progress_chat_id INTEGER,
        progress_message_id INTEGER,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        finished_at TEXT
    );
    CREATE TABLE broadcast_recipients (
        broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id),
        user_id INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'unreachable', 'failed')),
        error TEXT,
        PRIMARY KEY (broadcast_id, user_id)
    );
    CREATE INDEX broadcast_pending ON broadcast_recipients(broadcast_id, status);
    CREATE TABLE config (                        -- operator settings changed at run time (markup, ...)
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_by INTEGER,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    """

#: 4: an upstream number belongs to one order only (a lookup must never hand it to a second one)
MIGRATION_4 = """
    CREATE UNIQUE INDEX orders_upstream ON orders(provider, upstream_id) WHERE upstream_id IS NOT NULL;
    """
