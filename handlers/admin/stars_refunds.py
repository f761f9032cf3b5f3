"""/refund_stars: the admin gives a Telegram Stars payment back, and the user is told."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.money.billing import Billing
from bot.money.stars import Payments, Refund
from handlers.admin.texts import stars_refunds as texts
from handlers.notifier import Notifier

logger = logging.getLogger(__name__)

router = Router(name=__name__)

MAX_CHARGE_ID = 256  # Telegram's charge ids are short; a longer one is garbage


@router.message(Command("refund_stars"))
async def refund_stars(
    message: Message, command: CommandObject, payments: Payments, billing: Billing, bot: Bot, notifier: Notifier
) -> None:
    charge = (command.args or "").strip()
    if not charge or " " in charge or len(charge) > MAX_CHARGE_ID:
        await message.answer(texts.usage())
        return
    admin_id = message.from_user.id if message.from_user else 0
    result = await payments.refund(bot, admin_id=admin_id, charge_id=charge)
    await message.answer(texts.outcome(result, charge, billing.fmt))
    p = result.payment
    if result.outcome is not Refund.REFUNDED or p is None:
        return
    await notifier.tell_user(p.user_id, lambda: texts.told(p.stars, billing.fmt(p.amount), result.debited))
