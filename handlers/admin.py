"""Admin commands. Access is checked once, at router level; others get a polite refusal."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.filters import BaseFilter, Command, CommandObject
from aiogram.types import Message, TelegramObject, User
from aiogram.utils.i18n import gettext as _

from bot.billing import Billing
from bot.settings import Settings
from providers.money import parse_amount

logger = logging.getLogger(__name__)

ADMIN_COMMANDS = ("credit",)


class IsAdmin(BaseFilter):
    """True for the users listed in ``ADMIN_IDS``."""

    async def __call__(self, event: TelegramObject, settings: Settings, event_from_user: User | None) -> bool:
        return event_from_user is not None and event_from_user.id in settings.admin_ids


router = Router(name=__name__)
router.message.filter(IsAdmin())
router.callback_query.filter(IsAdmin())


def _usage() -> str:
    return _("Usage: <code>/credit &lt;telegram_id&gt; &lt;amount&gt; [reason]</code>, e.g. /credit 12345 5.50 bonus")


@router.message(Command("credit"))
async def credit(message: Message, command: CommandObject, billing: Billing, bot: Bot) -> None:
    parts = (command.args or "").split(maxsplit=2)
    try:
        user_id = int(parts[0])
        amount = parse_amount(parts[1], billing.currency)
    except (IndexError, ValueError):
        await message.answer(_usage())
        return
    reason = parts[2] if len(parts) > 2 else "manual credit"
    admin_id = message.from_user.id if message.from_user else 0
    try:
        entry = await billing.admin_adjust(
            admin_id=admin_id,
            user_id=user_id,
            amount=amount,
            reason=reason,
            reference=f"admin:{message.chat.id}:{message.message_id}",
        )
    except LookupError:
        await message.answer(_("User {id} has not started the bot yet.").format(id=user_id))
        return
    if entry is None:  # the same command delivered twice
        await message.answer(_("Already credited."))
        return
    logger.info("admin %d credited user %d with %d", admin_id, user_id, amount)
    await message.answer(
        _("Credited {amount} to {id}. New balance: {balance}.").format(
            amount=billing.fmt(amount), id=user_id, balance=billing.fmt(entry.balance_after)
        )
    )
    await bot.send_message(
        user_id,
        _("💰 Your balance was topped up by {amount}. Balance: {balance}.").format(
            amount=billing.fmt(amount), balance=billing.fmt(entry.balance_after)
        ),
    )


not_admin_router = Router(name=f"{__name__}.refusal")


@not_admin_router.message(Command(*ADMIN_COMMANDS))
async def not_for_you(message: Message) -> None:
    await message.answer(_("This command is for the bot's administrators."))
