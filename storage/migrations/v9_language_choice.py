"""Migration 9: the language a user picked with /language.

``users.language`` keeps what Telegram's client reports (``language_code``, refreshed on every update);
``language_choice`` is the user's own pick and wins over it. NULL until they pick one; a pick of the
language Telegram reports is stored too, so that a later change of the app's language does not undo it.

Shipped: never edit, add a migration instead.
"""

from __future__ import annotations

#: 9: the user's own language pick
MIGRATION_9 = """
    ALTER TABLE users ADD COLUMN language_choice TEXT;
"""
