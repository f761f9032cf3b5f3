"""The people who use the bot, as the update path and the notifier need them: registering the sender
of each update, the language their messages are written in, and the flag that they blocked the bot."""

from __future__ import annotations

from storage import users
from storage.db import Database
from storage.users import User


class People:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def register(self, user_id: int, username: str | None, first_name: str, language: str) -> User:
        """Register the sender or refresh their profile and last-seen time (which clears the blocked flag)."""
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
