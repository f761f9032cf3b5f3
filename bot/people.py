"""The people who use the bot, as the update path and the notifier need them: registering the sender
of each update, the language they read (their app's, or the one they picked), and the flag that they blocked the bot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.languages import LANGUAGES
from storage import users
from storage.backends import Store
from storage.timestamps import stored_now
from storage.users import User

#: how stale the stored last-seen time may grow before an update refreshes it; it feeds only day-sized
#: figures (active today / this week, broadcast audiences by days), so minutes are precise enough
SEEN_STEP = timedelta(minutes=10)


class People:
    def __init__(self, db: Store) -> None:
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

    async def get(self, user_id: int) -> User | None:
        """The stored user (their language among the rest); None for someone never seen."""
        async with self.db.read() as conn:
            return await users.get(conn, user_id)

    async def choose_language(self, user_id: int, language: str) -> User | None:
        """Store the language the user picked (one of :data:`bot.languages.LANGUAGES`); it wins over
        their app's language from now on. None for someone never seen."""
        if language not in LANGUAGES:
            raise ValueError(f"not a shipped language: {language!r}")
        async with self.db.transaction() as conn:
            return await users.choose_language(conn, user_id, language)

    async def mark_blocked(self, user_id: int) -> None:
        """The user blocked the bot: Telegram refuses to write to them until they come back."""
        async with self.db.transaction() as conn:
            await users.set_blocked(conn, user_id)
