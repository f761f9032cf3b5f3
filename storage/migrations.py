"""Numbered schema migrations, applied in order at start and tracked in ``PRAGMA user_version``."""

from __future__ import annotations

import logging

import aiosqlite

logger = logging.getLogger(__name__)

MIGRATIONS: list[str] = [
    # 1: users, the append-only ledger, orders and their SMS
    """
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
    """,
    # 2: what routing needs to look a purchase up again, rentals, and the operator's price overrides
    """
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
    """,
    # 3: Stars payments, promo codes, the admin action log, broadcasts with per-recipient state
    """
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
    """,
    # 4: an upstream number belongs to one order only (a lookup must never hand it to a second one)
    """
    CREATE UNIQUE INDEX orders_upstream ON orders(provider, upstream_id) WHERE upstream_id IS NOT NULL;
    """,
    # 5: what every upstream purchase ended in, refund terms per order, unclear renewals, and Stars
    #    payments kept before they are credited (received) or when they are not (rejected)
    """
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
    """,
    # 6: money columns hold integers of at most 10^15 minor units (providers.money.MONEY_BOUND), so no
    #    bug and no absurd input can store a float (SQLite turns an overflowing sum into one) or a sum
    #    beyond 64 bits. SQLite cannot add a CHECK to an existing table: BEFORE triggers refuse the row.
    #    Each message starts with 'money out of range' (storage.ledger.OUT_OF_RANGE). The ledger needs no
    #    UPDATE trigger: it is append-only.
    """
    CREATE TRIGGER users_balance_insert_money BEFORE INSERT ON users
        WHEN typeof(NEW.balance) != 'integer' OR NEW.balance NOT BETWEEN -1000000000000000 AND 1000000000000000
        BEGIN SELECT RAISE(ABORT, 'money out of range: users.balance'); END;
    CREATE TRIGGER users_balance_update_money BEFORE UPDATE OF balance ON users
        WHEN typeof(NEW.balance) != 'integer' OR NEW.balance NOT BETWEEN -1000000000000000 AND 1000000000000000
        BEGIN SELECT RAISE(ABORT, 'money out of range: users.balance'); END;
    CREATE TRIGGER ledger_amount_insert_money BEFORE INSERT ON ledger
        WHEN typeof(NEW.amount) != 'integer' OR NEW.amount NOT BETWEEN -1000000000000000 AND 1000000000000000
        BEGIN SELECT RAISE(ABORT, 'money out of range: ledger.amount'); END;
    CREATE TRIGGER ledger_balance_after_insert_money BEFORE INSERT ON ledger
        WHEN typeof(NEW.balance_after) != 'integer'
            OR NEW.balance_after NOT BETWEEN -1000000000000000 AND 1000000000000000
        BEGIN SELECT RAISE(ABORT, 'money out of range: ledger.balance_after'); END;
    CREATE TRIGGER orders_price_insert_money BEFORE INSERT ON orders
        WHEN typeof(NEW.price) != 'integer' OR NEW.price NOT BETWEEN -1000000000000000 AND 1000000000000000
        BEGIN SELECT RAISE(ABORT, 'money out of range: orders.price'); END;
    CREATE TRIGGER orders_price_update_money BEFORE UPDATE OF price ON orders
        WHEN typeof(NEW.price) != 'integer' OR NEW.price NOT BETWEEN -1000000000000000 AND 1000000000000000
        BEGIN SELECT RAISE(ABORT, 'money out of range: orders.price'); END;
    CREATE TRIGGER orders_cost_insert_money BEFORE INSERT ON orders
        WHEN NEW.cost IS NOT NULL
            AND (typeof(NEW.cost) != 'integer' OR NEW.cost NOT BETWEEN -1000000000000000 AND 1000000000000000)
        BEGIN SELECT RAISE(ABORT, 'money out of range: orders.cost'); END;
    CREATE TRIGGER orders_cost_update_money BEFORE UPDATE OF cost ON orders
        WHEN NEW.cost IS NOT NULL
            AND (typeof(NEW.cost) != 'integer' OR NEW.cost NOT BETWEEN -1000000000000000 AND 1000000000000000)
        BEGIN SELECT RAISE(ABORT, 'money out of range: orders.cost'); END;
    CREATE TRIGGER promo_codes_amount_insert_money BEFORE INSERT ON promo_codes
        WHEN typeof(NEW.amount) != 'integer' OR NEW.amount NOT BETWEEN -1000000000000000 AND 1000000000000000
        BEGIN SELECT RAISE(ABORT, 'money out of range: promo_codes.amount'); END;
    CREATE TRIGGER promo_codes_amount_update_money BEFORE UPDATE OF amount ON promo_codes
        WHEN typeof(NEW.amount) != 'integer' OR NEW.amount NOT BETWEEN -1000000000000000 AND 1000000000000000
        BEGIN SELECT RAISE(ABORT, 'money out of range: promo_codes.amount'); END;
    CREATE TRIGGER price_overrides_price_insert_money BEFORE INSERT ON price_overrides
        WHEN typeof(NEW.price) != 'integer' OR NEW.price NOT BETWEEN -1000000000000000 AND 1000000000000000
        BEGIN SELECT RAISE(ABORT, 'money out of range: price_overrides.price'); END;
    CREATE TRIGGER price_overrides_price_update_money BEFORE UPDATE OF price ON price_overrides
        WHEN typeof(NEW.price) != 'integer' OR NEW.price NOT BETWEEN -1000000000000000 AND 1000000000000000
        BEGIN SELECT RAISE(ABORT, 'money out of range: price_overrides.price'); END;
    CREATE TRIGGER payments_amount_insert_money BEFORE INSERT ON payments
        WHEN typeof(NEW.amount) != 'integer' OR NEW.amount NOT BETWEEN -1000000000000000 AND 1000000000000000
        BEGIN SELECT RAISE(ABORT, 'money out of range: payments.amount'); END;
    CREATE TRIGGER payments_amount_update_money BEFORE UPDATE OF amount ON payments
        WHEN typeof(NEW.amount) != 'integer' OR NEW.amount NOT BETWEEN -1000000000000000 AND 1000000000000000
        BEGIN SELECT RAISE(ABORT, 'money out of range: payments.amount'); END;
    CREATE TRIGGER order_renewals_price_insert_money BEFORE INSERT ON order_renewals
        WHEN typeof(NEW.price) != 'integer' OR NEW.price NOT BETWEEN -1000000000000000 AND 1000000000000000
        BEGIN SELECT RAISE(ABORT, 'money out of range: order_renewals.price'); END;
    CREATE TRIGGER order_renewals_price_update_money BEFORE UPDATE OF price ON order_renewals
        WHEN typeof(NEW.price) != 'integer' OR NEW.price NOT BETWEEN -1000000000000000 AND 1000000000000000
        BEGIN SELECT RAISE(ABORT, 'money out of range: order_renewals.price'); END;
    """,
]


async def migrate(conn: aiosqlite.Connection) -> int:
    """Apply every migration newer than the database; returns the resulting version."""
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = int(row[0]) if row else 0
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        logger.info("applying migration %d", number)
        try:
            await conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
        except Exception:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)
