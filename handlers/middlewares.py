"""Per-update concerns only: register the sender and hand their record to handlers as ``user``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

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
            if data["user"].is_banned and sender.id not in data["settings"].admin_ids and not _payment(event):
                return await _refuse_banned(event, data)
        return await handler(event, data)


def _payment(event: TelegramObject) -> bool:
    """Payment updates go on to their handlers even for the banned: money already moved, or is refused there."""
    if not isinstance(event, Update):
        return False
    return event.pre_checkout_query is not None or (
        event.message is not None and event.message.successful_payment is not None
    )


async def _refuse_banned(event: TelegramObject, data: dict[str, Any]) -> None:
    """One line for a banned user's message or tap, and nothing else."""
    if not isinstance(event, Update):
        return
    i18n: I18n = data["i18n"]
    with i18n.context(), i18n.use_locale(data["user"].language):
        text = _("You are banned from this bot.")
    if event.callback_query is not None:
        await event.callback_query.answer(text, show_alert=True)
    elif event.message is not None:
        await event.message.answer(text)
