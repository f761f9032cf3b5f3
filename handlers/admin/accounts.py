"""The operator's user screen: /user lookup, credit or debit by the next message, ban and unban."""

from __future__ import annotations

import html
import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.money.billing import Billing
from bot.operator.accounts import AdminUsers
from bot.settings import Settings
from handlers.admin import keyboards as kb
from handlers.admin import texts
from handlers.admin.commands import IsAdmin
from handlers.callbacks import AdminUserCb
from handlers.screens import show
from providers.money import parse_amount
from storage.ledger import InsufficientFunds, OutOfRange

logger = logging.getLogger(__name__)

router = Router(name=__name__)
router.message.filter(IsAdmin())
router.callback_query.filter(IsAdmin())


class Adjust(StatesGroup):
    amount = State()  # data: user_id, sign (+1 credit, -1 debit)


async def _card(target: Message | CallbackQuery, query: str | int, admin_users: AdminUsers, billing: Billing) -> None:
    card = await admin_users.card(query)
    if card is None:
        shown = html.escape(str(query)[:64])  # an echo never makes the answer too long for Telegram
        await show(target, _("No user matches {query}.").format(query=shown), kb.back())
        return
    await show(target, texts.user_card(card, billing.fmt), kb.user_card(card.user))


@router.message(Command("user"))
async def user_command(
    message: Message, command: CommandObject, admin_users: AdminUsers, billing: Billing, state: FSMContext
) -> None:
    await state.clear()
    if not (command.args or "").strip():
        await message.answer(texts.users_help())
        return
    await _card(message, command.args.strip(), admin_users, billing)


@router.callback_query(AdminUserCb.filter(F.action == "show"))
async def show_user(
    query: CallbackQuery, callback_data: AdminUserCb, admin_users: AdminUsers, billing: Billing, state: FSMContext
) -> None:
    await state.clear()
    await _card(query, callback_data.user_id, admin_users, billing)
    await query.answer()


@router.callback_query(AdminUserCb.filter(F.action.in_({"ban", "unban"})))
async def ban(query: CallbackQuery, callback_data: AdminUserCb, admin_users: AdminUsers, billing: Billing) -> None:
    banned = callback_data.action == "ban"
    try:
        await admin_users.set_banned(query.from_user.id, callback_data.user_id, banned)
    except LookupError:
        await query.answer(_("No such user."), show_alert=True)
        return
    await _card(query, callback_data.user_id, admin_users, billing)
    await query.answer(_("Banned.") if banned else _("Unbanned."))


@router.callback_query(AdminUserCb.filter(F.action.in_({"credit", "debit"})))
async def ask_amount(
    query: CallbackQuery, callback_data: AdminUserCb, state: FSMContext, billing: Billing, settings: Settings
) -> None:
    await state.set_state(Adjust.amount)
    await state.update_data(user_id=callback_data.user_id, sign=1 if callback_data.action == "credit" else -1)
    text = (
        _("Send the amount to credit and a reason, e.g. <code>5.50 bonus</code>.")
        if callback_data.action == "credit"
        else _("Send the amount to debit and a reason, e.g. <code>1.00 correction</code>.")
    )
    rule = texts.amount_rule(settings.max_amount_minor, billing.fmt)
    await show(query, f"{text}\n{rule}", kb.cancel_adjust(callback_data.user_id))
    await query.answer()


@router.message(Adjust.amount, F.text, ~F.text.startswith("/"))
async def adjust(
    message: Message, state: FSMContext, billing: Billing, settings: Settings, admin_users: AdminUsers, bot: Bot
) -> None:
    data = await state.get_data()
    user_id, sign = int(data["user_id"]), int(data["sign"])
    amount_text, _sep, reason = (message.text or "").strip().partition(" ")
    try:
        amount = parse_amount(amount_text, billing.currency, settings.max_amount_minor)
    except ValueError:
        usage = _("Send an amount and a reason, e.g. <code>5.50 bonus</code>.")
        await message.answer(f"{usage}\n{texts.amount_rule(settings.max_amount_minor, billing.fmt)}")
        return
    admin_id = message.from_user.id if message.from_user else 0
    try:
        entry = await billing.admin_adjust(
            admin_id=admin_id,
            user_id=user_id,
            amount=sign * amount,
            reason=reason.strip() or ("manual credit" if sign > 0 else "manual debit"),
            reference=f"admin:{message.chat.id}:{message.message_id}",
        )
    except InsufficientFunds:
        await message.answer(_("The balance does not cover that debit; nothing changed."))
        return
    except OutOfRange:
        await message.answer(
            _("That would take the balance of {id} beyond what it can hold; nothing changed.").format(id=user_id)
        )
        return
    except LookupError:
        await message.answer(_("User {id} has not started the bot yet.").format(id=user_id))
        return
    finally:
        await state.clear()
    if entry is not None:
        logger.info("admin %d adjusted user %d by %d", admin_id, user_id, sign * amount)
        await message.answer(_("Done: {amount}.").format(amount=("+" if sign > 0 else "−") + billing.fmt(amount)))
        if sign > 0:
            await _tell_user(bot, user_id, billing, amount, entry.balance_after)
    await _card(message, user_id, admin_users, billing)


async def _tell_user(bot: Bot, user_id: int, billing: Billing, amount: int, balance: int) -> None:
    try:
        await bot.send_message(
            user_id,
            _("💰 Your balance was topped up by {amount}. Balance: {balance}.").format(
                amount=billing.fmt(amount), balance=billing.fmt(balance)
            ),
        )
    except TelegramAPIError as exc:
        logger.info("user %d not told about the credit: %s", user_id, exc)
