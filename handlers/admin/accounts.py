"""The operator's user screen: /user lookup, the card, ban and unban. Credit and debit are in
:mod:`handlers.admin.balance_changes`."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.money.billing import Billing
from bot.operator.accounts import AdminUsers
from handlers.admin import keyboards as kb
from handlers.admin.texts import accounts as texts
from handlers.callback_answers import TapAnswer
from handlers.callbacks import AdminUserCb
from handlers.screens import show

router = Router(name=__name__)


async def show_card(
    target: Message | CallbackQuery, query: str | int, admin_users: AdminUsers, billing: Billing
) -> None:
    """The card of the user ``query`` finds (an id or an @username), or that none matches."""
    card = await admin_users.card(query)
    if card is None:
        await show(target, texts.no_match(query), kb.back())
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
    await show_card(message, command.args.strip(), admin_users, billing)


@router.callback_query(AdminUserCb.filter(F.action == "show"))
async def show_user(
    query: CallbackQuery, callback_data: AdminUserCb, admin_users: AdminUsers, billing: Billing, state: FSMContext
) -> None:
    await state.clear()
    await show_card(query, callback_data.user_id, admin_users, billing)


@router.callback_query(AdminUserCb.filter(F.action.in_({"ban", "unban"})))
async def ban(
    query: CallbackQuery,
    callback_data: AdminUserCb,
    admin_users: AdminUsers,
    billing: Billing,
    callback_answer: TapAnswer,
) -> None:
    banned = callback_data.action == "ban"
    try:
        await admin_users.set_banned(query.from_user.id, callback_data.user_id, banned)
    except LookupError:
        callback_answer.alert(texts.no_such_user())
        return
    await show_card(query, callback_data.user_id, admin_users, billing)
    callback_answer.text = texts.banned(banned)
