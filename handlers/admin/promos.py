"""/promo_new and /promo_list: the admin creates promo codes and sees how they are used."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.money.billing import Billing
from bot.money.promos import MAX_DAYS, MAX_USES, Promos, normalize_code, parse_count
from bot.settings import Settings
from handlers.admin.texts import promos as texts
from handlers.admin.texts.panel import with_amount_rule
from providers.money import parse_amount

router = Router(name=__name__)


@router.message(Command("promo_new"))
async def promo_new(
    message: Message, command: CommandObject, promos: Promos, billing: Billing, settings: Settings
) -> None:
    """``/promo_new CODE AMOUNT USES [DAYS]``."""
    parts = (command.args or "").split()
    try:
        if len(parts) not in (3, 4):
            raise ValueError("3 or 4 arguments expected")
        code = normalize_code(parts[0])
        amount = parse_amount(parts[1], billing.currency, settings.max_amount_minor)
        uses = parse_count(parts[2], MAX_USES)
        days = parse_count(parts[3], MAX_DAYS) if len(parts) == 4 else None
        admin_id = message.from_user.id if message.from_user else 0
        promo = await promos.create(admin_id=admin_id, code=code, amount=amount, max_uses=uses, days=days)
    except ValueError:
        await message.answer(with_amount_rule(texts.new_usage(), settings.max_amount_minor, billing.fmt))
        return
    if promo is None:
        await message.answer(texts.exists(code))
        return
    await message.answer(texts.created(promo, billing.fmt))


@router.message(Command("promo_list"))
async def promo_list(message: Message, promos: Promos, billing: Billing) -> None:
    await message.answer(texts.listing(await promos.newest(), billing.fmt))
