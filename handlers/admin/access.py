"""Who is an admin, and the one answer anyone else gets to an admin command.

The admin routers carry :class:`IsAdmin` once, in :mod:`handlers.admin`; :data:`router` here answers
the others: every command of :data:`ADMIN_COMMANDS` gets the same refusal followed by the ordinary help.
Taps on admin buttons from anyone else fall through to the fallback's "outdated button".
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import BaseFilter, Command
from aiogram.types import Message, TelegramObject, User

from bot.settings import Settings
from handlers import keyboards
from handlers.admin.texts.panel import refusal

#: every command the admin routers answer outside a form (the forms' /cancel and /skip are not commands
#: of their own); a test keeps it in step with the routers
ADMIN_COMMANDS = (
    "admin",
    "user",
    "markup",
    "price",
    "credit",
    "debit",
    "audit",
    "promo_new",
    "promo_list",
    "broadcast",
    "refund_stars",
)


def is_admin(user_id: int, settings: Settings) -> bool:
    return user_id in settings.admin_ids


class IsAdmin(BaseFilter):
    """True for the users listed in ``ADMIN_IDS``."""

    async def __call__(self, event: TelegramObject, settings: Settings, event_from_user: User | None) -> bool:
        return event_from_user is not None and is_admin(event_from_user.id, settings)


router = Router(name=__name__)


@router.message(Command(*ADMIN_COMMANDS))
async def not_for_you(message: Message) -> None:
    await message.answer(refusal(), reply_markup=keyboards.back_to_menu())
