"""/balance: the balance and the latest ledger rows."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.money.billing import Billing
from handlers import cards, keyboards
from handlers.callbacks import MenuCb
from handlers.screens import show
from storage.users import User

router = Router(name=__name__)


async def _balance(target: CallbackQuery | Message, billing: Billing, user: User) -> None:
    balance = await billing.balance(user.id)
    entries = await billing.history(user.id, limit=5)
    await show(target, cards.balance_text(balance, entries, billing.fmt), keyboards.balance_menu())


@router.message(Command("balance"))
async def balance_command(message: Message, billing: Billing, user: User) -> None:
    await _balance(message, billing, user)


@router.callback_query(MenuCb.filter(F.action == "balance"))
async def balance_button(query: CallbackQuery, billing: Billing, user: User) -> None:
    await _balance(query, billing, user)
    await query.answer()
