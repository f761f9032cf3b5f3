"""Texts of /promo: how to use it, and what came of redeeming a code. Pure functions, HTML."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from aiogram.utils.i18n import gettext as _

from bot.money.promos import Redeemed, Redemption


def usage() -> str:
    return _("Usage: <code>/promo CODE</code>, e.g. /promo SPRING25")


def redeemed(code: str, result: Redemption, fmt: Callable[[int], str]) -> str:
    """The answer to ``/promo CODE``: the credit and the new balance, or why nothing was credited."""
    shown = escape(code.upper())
    if result.outcome is Redeemed.CREDITED:
        return _("🎁 Promo code {code}: {amount} added. Balance: {balance}.").format(
            code=shown, amount=fmt(result.amount), balance=fmt(result.balance)
        )
    return {
        Redeemed.NOT_FOUND: _("There is no promo code {code}."),
        Redeemed.EXPIRED: _("The promo code {code} has expired."),
        Redeemed.USED_UP: _("The promo code {code} has been used up."),
        Redeemed.ALREADY_USED: _("You have already used the promo code {code}; it works once per user."),
    }[result.outcome].format(code=shown)
