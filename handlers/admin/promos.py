"""/promo_new and /promo_list: the admin creates promo codes and sees how they are used."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.money.billing import Billing
from bot.money.promos import MAX_DAYS, MAX_USES, Promos, normalize_code, parse_count
from bot.settings import Settings
from handlers.admin.commands import IsAdmin
from handlers.admin.texts import amount_rule
from providers.money import parse_amount
from storage.promos import PromoCode

router = Router(name=__name__)
router.message.filter(IsAdmin())


def _new_usage(maximum: int, billing: Billing) -> str:
    usage = _(
        "Usage: <code>/promo_new CODE AMOUNT USES [DAYS]</code>, e.g. /promo_new SPRING25 2.50 100 30\n"
        "CODE: 3–32 letters, digits, - or _; USES: how many users may redeem it (1 to {uses}); "
        "DAYS: optional expiry (1 to {days})."
    ).format(uses=MAX_USES, days=MAX_DAYS)
    return f"{usage}\n{amount_rule(maximum, billing.fmt)}"


@router.message(Command("promo_new"))
async def promo_new(
    message: Message, command: CommandObject, promos: Promos, billing: Billing, settings: Settings
) -> None:
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
        await message.answer(_new_usage(settings.max_amount_minor, billing))
        return
    if promo is None:
        await message.answer(_("The promo code {code} already exists.").format(code=code))
        return
    await message.answer(_("Promo code created: {line}").format(line=_line(promo, billing)))


@router.message(Command("promo_list"))
async def promo_list(message: Message, promos: Promos, billing: Billing) -> None:
    codes = await promos.newest()
    if not codes:
        await message.answer(_("No promo codes yet. Create one with /promo_new."))
        return
    await message.answer("\n".join([_("Promo codes (newest first):"), *(_line(p, billing) for p in codes)]))


def _line(promo: PromoCode, billing: Billing) -> str:
    if promo.expires_at is None:
        expiry = _("no expiry")
    elif promo.expired(datetime.now(UTC)):
        expiry = _("expired")
    else:
        expiry = _("until {moment}").format(moment=promo.expires_at.strftime("%Y-%m-%d %H:%M UTC"))
    return _("<code>{code}</code> · {amount} · used {uses}/{max} · {expiry}").format(
        code=promo.code, amount=billing.fmt(promo.amount), uses=promo.uses, max=promo.max_uses, expiry=expiry
    )
