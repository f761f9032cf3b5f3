"""Per-update concerns only: register the sender and hand their record to handlers as ``user``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TgUser

from storage import users
from storage.db import Database


class UserMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        sender: TgUser | None = data.get("event_from_user")
        db: Database = data["db"]
        if sender is not None and not sender.is_bot:
            async with db.transaction() as conn:
                data["user"] = await users.upsert(
                    conn, sender.id, sender.username, sender.first_name, sender.language_code or "en"
                )
        return await handler(event, data)
