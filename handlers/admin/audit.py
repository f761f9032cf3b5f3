"""/audit [days]: the books checked against each other, and the period's figures."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.money.audit import Audit
from bot.money.billing import Billing
from handlers.admin.texts import audit as texts

router = Router(name=__name__)

MAX_DAYS = 3650


@router.message(Command("audit"))
async def audit_command(message: Message, command: CommandObject, audit: Audit, billing: Billing) -> None:
    try:
        days = int(command.args or "30")
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(days)
    except ValueError:
        await message.answer(texts.usage())
        return
    report = await audit.run(days)
    await message.answer(texts.audit_text(report, billing.fmt))
