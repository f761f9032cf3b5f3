"""Every balance change an admin makes: ``/credit`` and ``/debit`` commands and the user screen's Credit and
Debit buttons (the amount comes as the next message). Both post through :func:`change_balance`: the same
refusals, the same confirmation, and the user is told about every change."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.money.billing import Billing
from bot.operator.accounts import AdminUsers
from bot.settings import Settings
from handlers.admin import keyboards as kb
from handlers.admin.accounts import show_card
from handlers.admin.texts import accounts as texts
from handlers.admin.texts.panel import with_amount_rule
from handlers.callbacks import AdminUserCb
from handlers.filters import on_loop
from handlers.notifier import Notifier
from handlers.screens import show
from handlers.texts import refusals
from providers.money import parse_amount
from storage.ledger import Entry, InsufficientFunds, OutOfRange

logger = logging.getLogger(__name__)

router = Router(name=__name__)


class Adjust(StatesGroup):
    amount = State()  # data: user_id, sign (+1 credit, -1 debit)


def parse_user_id(text: str) -> int:
    """A Telegram user id as typed; ValueError for anything but 1 to 19 ASCII digits that fit SQLite."""
    cleaned = text.strip()
    if not (cleaned.isascii() and cleaned.isdigit() and len(cleaned) <= 19) or not 0 < int(cleaned) < 2**63:
        raise ValueError(f"not a Telegram id: {text!r}")
    return int(cleaned)


async def change_balance(
    message: Message, billing: Billing, notifier: Notifier, user_id: int, amount: int, reason: str
) -> Entry | None:
    """Post ``amount`` (negative: a debit) to ``user_id``'s balance as the admin who sent ``message``, confirm it
    to the admin and tell the user. None when nothing changed (the admin was told why)."""
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
        await message.answer(texts.not_started(user_id))
        return None
    except InsufficientFunds:
        await message.answer(texts.too_little(user_id, billing.fmt(await billing.balance(user_id))))
        return None
    except OutOfRange:
        await message.answer(texts.too_much(user_id))
        return None
    if entry is None:  # the same message delivered twice
        await message.answer(texts.already_done())
        return None
    logger.info("admin %d adjusted user %d by %d", admin_id, user_id, amount)
    after = entry.balance_after
    credit, shown, balance = amount > 0, billing.fmt(abs(amount)), billing.fmt(after)
    await message.answer(texts.changed(credit, user_id, shown, balance))
    # in the user's language, amounts as it writes them; the money moved, the notice is best effort
    await notifier.tell_user(user_id, lambda: texts.told(credit, billing.fmt(abs(amount)), billing.fmt(after)))
    return entry


@router.message(Command("credit", "debit"))
async def command(
    message: Message, command: CommandObject, billing: Billing, settings: Settings, notifier: Notifier
) -> None:
    """``/credit <telegram_id> <amount> [reason]``, and ``/debit`` alike."""
    credit = command.command == "credit"
    parts = (command.args or "").split(maxsplit=2)
    try:
        user_id = parse_user_id(parts[0])
        amount = parse_amount(parts[1], billing.currency, settings.max_amount_minor)
    except (IndexError, ValueError):
        usage = texts.command_usage(command.command)
        await message.answer(with_amount_rule(usage, settings.max_amount_minor, billing.fmt))
        return
    reason = parts[2] if len(parts) > 2 else texts.default_reason(credit)
    await change_balance(message, billing, notifier, user_id, amount if credit else -amount, reason)


@router.callback_query(AdminUserCb.filter(F.action.in_({"credit", "debit"})))
async def ask_amount(
    query: CallbackQuery, callback_data: AdminUserCb, state: FSMContext, billing: Billing, settings: Settings
) -> None:
    credit = callback_data.action == "credit"
    # the data before the state: a message racing in between must not find the state without its data
    await state.update_data(user_id=callback_data.user_id, sign=1 if credit else -1)
    await state.set_state(Adjust.amount)
    text = with_amount_rule(texts.ask_amount(credit), settings.max_amount_minor, billing.fmt)
    await show(query, text, kb.cancel_adjust(callback_data.user_id))


@router.message(StateFilter(Adjust.amount), on_loop(F.text), on_loop(~F.text.startswith("/")))
async def amount_given(
    message: Message,
    state: FSMContext,
    billing: Billing,
    settings: Settings,
    admin_users: AdminUsers,
    notifier: Notifier,
) -> None:
    """The amount and the reason for the user screen's Credit or Debit; the card again once it is posted."""
    data = await state.get_data()
    if "user_id" not in data or "sign" not in data:  # a form this bot no longer knows: start over
        await state.clear()
        await message.answer(refusals.unknown_input())
        return
    user_id, sign = int(data["user_id"]), int(data["sign"])
    amount_text, _sep, reason = (message.text or "").strip().partition(" ")
    try:
        amount = parse_amount(amount_text, billing.currency, settings.max_amount_minor)
    except ValueError:
        await message.answer(with_amount_rule(texts.amount_usage(), settings.max_amount_minor, billing.fmt))
        return
    await state.clear()
    reason = reason.strip() or texts.default_reason(sign > 0)
    if await change_balance(message, billing, notifier, user_id, sign * amount, reason) is not None:
        await show_card(message, user_id, admin_users, billing)
