"""Migration 10: what the shop remembers for a buyer beyond their orders (issue 13).

- ``favourites``: the (service, country) pairs a user starred on a confirmation screen.
- ``users.referrer_id``: who invited the user, bound once at their first /start; NULL for most. A
  referral bonus is an ordinary ledger row of kind ``referral`` with reference ``referral:<order id>``
  (the ledger's unique reference makes it happen once).
- ``support_threads``: each /paysupport message forwarded to an admin chat, so that an admin's reply to
  it reaches the user who wrote.
- ``outbound_sms``: every SMS a user sent from a rented number, kept for the operator, with its price
  and what the upstream answered.

Shipped: never edit, add a migration instead.
"""

from __future__ import annotations

#: 10: favourites, referrals, support threads, outbound SMS
MIGRATION_10 = """
    CREATE TABLE favourites (
        user_id INTEGER NOT NULL REFERENCES users(id),
        service TEXT NOT NULL,
        country TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (user_id, service, country)
    ) WITHOUT ROWID;
    ALTER TABLE users ADD COLUMN referrer_id INTEGER REFERENCES users(id)
        CHECK (referrer_id IS NULL OR referrer_id != id);
    CREATE INDEX users_referrer ON users(referrer_id) WHERE referrer_id IS NOT NULL;
    CREATE TABLE support_threads (
        admin_chat_id INTEGER NOT NULL,
        admin_message_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users(id),
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (admin_chat_id, admin_message_id)
    ) WITHOUT ROWID;
    CREATE TABLE outbound_sms (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id INTEGER NOT NULL REFERENCES orders(id),
        user_id INTEGER NOT NULL REFERENCES users(id),
        recipient TEXT NOT NULL,
        text TEXT NOT NULL,
        price INTEGER NOT NULL CHECK (typeof(price) = 'integer' AND price >= 0),
        status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'refused', 'unclear')),
        upstream_id TEXT,
        error TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX outbound_sms_order ON outbound_sms(order_id);
    CREATE INDEX outbound_sms_user_day ON outbound_sms(user_id, created_at);
"""
