"""Admin commands. Access is checked once, at router level; others get a polite refusal."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import BaseFilter, Command, CommandObject
from aiogram.types import Message, TelegramObject, User
from aiogram.utils.i18n import gettext as _

from bot.money.audit import Audit
from bot.money.billing import Billing
from bot.settings import Settings
from handlers.admin.texts import amount_rule, audit_text
from providers.money import parse_amount
from storage.ledger import Entry, InsufficientFunds, OutOfRange

logger = logging.getLogger(__name__)

ADMIN_COMMANDS = ("credit", "debit", "audit", "promo_new", "promo_list", "broadcast", "refund_stars")


class IsAdmin(BaseFilter):
    """True for the users listed in ``ADMIN_IDS``."""

    async def __call__(self, event: TelegramObject, settings: Settings, event_from_user: User | None) -> bool:
        return event_from_user is not None and event_from_user.id in settings.admin_ids


router = Router(name=__name__)
router.message.filter(IsAdmin())
router.callback_query.filter(IsAdmin())


def _usage(command: str, maximum: int, billing: Billing) -> str:
    usage = _(
        "Usage: <code>/{command} &lt;telegram_id&gt; &lt;amount&gt; [reason]</code>, e.g. /{command} 12345 5.50 bonus"
    ).format(command=command)
    return f"{usage}\n{amount_rule(maximum, billing.fmt)}"


def parse_user_id(text: str) -> int:
    """A Telegram user id as typed; ValueError for anything but 1 to 19 ASCII digits that fit SQLite."""
    cleaned = text.strip()
    if not (cleaned.isascii() and cleaned.isdigit() and len(cleaned) <= 19) or not 0 < int(cleaned) < 2**63:
        raise ValueError(f"not a Telegram id: {text!r}")
    return int(cleaned)


async def _adjust(
    message: Message, command: CommandObject, billing: Billing, settings: Settings, sign: int
) -> Entry | None:
    """Parse ``<telegram_id> <amount> [reason]`` and post it; None when the admin was already answered."""
    parts = (command.args or "").split(maxsplit=2)
    try:
        user_id = parse_user_id(parts[0])
        amount = sign * parse_amount(parts[1], billing.currency, settings.max_amount_minor)
    except (IndexError, ValueError):
        await message.answer(_usage(command.command, settings.max_amount_minor, billing))
        return None
    reason = parts[2] if len(parts) > 2 else f"manual {command.command}"
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
        return None
    except InsufficientFunds:
        balance = billing.fmt(await billing.balance(user_id))
        await message.answer(
            _("User {id} has only {balance}; nothing was debited.").format(id=user_id, balance=balance)
        )
        return None
    except OutOfRange:
        await message.answer(
            _("That would take the balance of {id} beyond what it can hold; nothing changed.").format(id=user_id)
        )
        return None
    if entry is None:  # the same command delivered twice
        await message.answer(_("Already done."))
        return None
    logger.info("admin %d adjusted user %d by %d", admin_id, user_id, amount)
    return entry


async def _tell(bot: Bot, user_id: int, text: str) -> None:
    try:
        await bot.send_message(user_id, text)
    except TelegramAPIError as exc:  # the money moved; the notice is best effort
        logger.info("could not tell user %d about a balance change: %s", user_id, exc)


@router.message(Command("credit"))
async def credit(message: Message, command: CommandObject, billing: Billing, settings: Settings, bot: Bot) -> None:
    entry = await _adjust(message, command, billing, settings, 1)
    if entry is None:
        return
    amount, balance = billing.fmt(entry.amount), billing.fmt(entry.balance_after)
    await message.answer(
        _("Credited {amount} to {id}. New balance: {balance}.").format(amount=amount, id=entry.user_id, balance=balance)
    )
    await _tell(
        bot,
        entry.user_id,
        _("💰 Your balance was topped up by {amount}. Balance: {balance}.").format(amount=amount, balance=balance),
    )


@router.message(Command("debit"))
async def debit(message: Message, command: CommandObject, billing: Billing, settings: Settings, bot: Bot) -> None:
    entry = await _adjust(message, command, billing, settings, -1)
    if entry is None:
        return
    amount, balance = billing.fmt(-entry.amount), billing.fmt(entry.balance_after)
    await message.answer(
        _("Debited {amount} from {id}. New balance: {balance}.").format(
            amount=amount, id=entry.user_id, balance=balance
        )
    )
    await _tell(
        bot,
        entry.user_id,
        _("Your balance was reduced by {amount} by the administrators. Balance: {balance}.").format(
            amount=amount, balance=balance
        ),
    )


@router.message(Command("audit"))
async def audit_command(message: Message, command: CommandObject, audit: Audit, billing: Billing) -> None:
    try:
        days = int(command.args or "30")
        if not 1 <= days <= 3650:
            raise ValueError(days)
    except ValueError:
        await message.answer(_("Usage: <code>/audit [days]</code>, e.g. /audit 7 (default 30)"))
        return
    report = await audit.run(days)
    await message.answer(audit_text(report, billing.fmt))


not_admin_router = Router(name=f"{__name__}.refusal")


@not_admin_router.message(Command(*ADMIN_COMMANDS))
async def not_for_you(message: Message) -> None:
    await message.answer(_("This command is for the bot's administrators."))
