"""Texts of /promo_new and /promo_list."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram.utils.i18n import gettext as _

from bot.money.promos import MAX_DAYS, MAX_USES
from handlers.admin.texts.panel import Fmt
from storage.promos import PromoCode


def new_usage() -> str:
    return _(
        "Usage: <code>/promo_new CODE AMOUNT USES [DAYS]</code>, e.g. /promo_new SPRING25 2.50 100 30\n"
        "CODE: 3–32 letters, digits, - or _; USES: how many users may redeem it (1 to {uses}); "
        "DAYS: optional expiry (1 to {days})."
    ).format(uses=MAX_USES, days=MAX_DAYS)


def exists(code: str) -> str:
    return _("The promo code {code} already exists.").format(code=code)


def created(promo: PromoCode, fmt: Fmt) -> str:
    return _("Promo code created: {line}").format(line=line(promo, fmt))


def listing(codes: list[PromoCode], fmt: Fmt) -> str:
    if not codes:
        return _("No promo codes yet. Create one with /promo_new.")
    return "\n".join([_("Promo codes (newest first):"), *(line(p, fmt) for p in codes)])


def line(promo: PromoCode, fmt: Fmt) -> str:
    if promo.expires_at is None:
        expiry = _("no expiry")
    elif promo.expired(datetime.now(UTC)):
        expiry = _("expired")
    else:
        expiry = _("until {moment}").format(moment=promo.expires_at.strftime("%Y-%m-%d %H:%M UTC"))
    return _("<code>{code}</code> · {amount} · used {uses}/{max} · {expiry}").format(
        code=promo.code, amount=fmt(promo.amount), uses=promo.uses, max=promo.max_uses, expiry=expiry
    )
