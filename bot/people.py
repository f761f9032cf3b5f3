"""The people who use the bot, as the update path and the notifier need them: registering the sender
of each update, the language their messages are written in, and the flag that they blocked the bot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import users
from storage.db import Database
from storage.timestamps import stored_now
from storage.users import User

#: how stale the stored last-seen time may grow before an update refreshes it; it feeds only day-sized
#: figures (active today / this week, broadcast audiences by days), so minutes are precise enough
SEEN_STEP = timedelta(minutes=10)


class People:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def register(self, user_id: int, username: str | None, first_name: str, language: str) -> User:
        """The sender's record, as stored now. Written only when something changed: first sight, a new
        username, name or language, the blocked flag to clear (they wrote again), or a last-seen time older
        than :data:`SEEN_STEP`; else one read, and the update costs no write transaction."""
        async with self.db.read() as conn:
            stored = await users.seen(conn, user_id, stored_now(datetime.now(UTC) - SEEN_STEP))
        if stored is not None:
            user, recent = stored
            unchanged = (user.username, user.first_name, user.language) == (username, first_name, language)
            if unchanged and recent and not user.is_blocked:
                return user
        async with self.db.transaction() as conn:
            return await users.upsert(conn, user_id, username, first_name, language)

    async def language(self, user_id: int) -> str | None:
        """The language the user last wrote in; None for someone never seen."""
        async with self.db.read() as conn:
            user = await users.get(conn, user_id)
        return user.language if user else None

    async def mark_blocked(self, user_id: int) -> None:
        """The user blocked the bot: Telegram refuses to write to them until they come back."""
        async with self.db.transaction() as conn:
            await users.set_blocked(conn, user_id)
