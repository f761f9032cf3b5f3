"""/promo CODE: a user redeems a promo code. The admin's /promo_new and /promo_list are in handlers.admin.promos."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.money.billing import Billing
from bot.money.promos import Promos
from handlers.texts import promos as texts
from storage.users import User

router = Router(name=__name__)


@router.message(Command("promo"))
async def redeem(message: Message, command: CommandObject, promos: Promos, billing: Billing, user: User) -> None:
    parts = (command.args or "").split()
    try:
        if len(parts) != 1:
            raise ValueError("one code expected")
        result = await promos.redeem(user.id, parts[0])
    except ValueError:
        await message.answer(texts.usage())
        return
    await message.answer(texts.redeemed(parts[0], result, billing.fmt))
