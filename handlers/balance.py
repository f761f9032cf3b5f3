"""/balance: the balance and the latest ledger rows."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.money.billing import Billing
from handlers import keyboards
from handlers.callbacks import MenuCb
from handlers.screens import show
from handlers.texts.balance import balance_text
from storage.users import User

router = Router(name=__name__)

#: ledger rows shown under the balance
HISTORY = 5


@router.message(Command("balance"))
@router.callback_query(MenuCb.filter(F.action == "balance"))
async def balance(target: Message | CallbackQuery, billing: Billing, user: User) -> None:
    amount = await billing.balance(user.id)
    text = balance_text(amount, await billing.history(user.id, limit=HISTORY), billing.fmt)
    await show(target, text, keyboards.balance_menu())
