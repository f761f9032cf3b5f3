"""/promo CODE: a user redeems a promo code. The admin's /promo_new and /promo_list are in handlers.admin.promos."""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.money.billing import Billing
from bot.money.promos import Promos, Redeemed
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
        await message.answer(_("Usage: <code>/promo CODE</code>, e.g. /promo SPRING25"))
        return
    code = escape(parts[0].upper())
    texts = {
        Redeemed.NOT_FOUND: _("There is no promo code {code}."),
        Redeemed.EXPIRED: _("The promo code {code} has expired."),
        Redeemed.USED_UP: _("The promo code {code} has been used up."),
        Redeemed.ALREADY_USED: _("You have already used the promo code {code}; it works once per user."),
    }
    if result.outcome is not Redeemed.CREDITED:
        await message.answer(texts[result.outcome].format(code=code))
        return
    await message.answer(
        _("🎁 Promo code {code}: {amount} added. Balance: {balance}.").format(
            code=code, amount=billing.fmt(result.amount), balance=billing.fmt(result.balance)
        )
    )
