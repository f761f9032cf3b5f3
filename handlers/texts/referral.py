"""Texts of /referral: the user's invitation link, how many joined through it and what it earned. Pure
functions, HTML."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from babel.numbers import format_percent

from bot import languages
from bot.money.referrals import Summary


def screen(summary: Summary, link: str, fmt: Callable[[int], str]) -> str:
    """The /referral screen: the rule, the link (tap to copy), people joined and the bonuses earned."""
    joined = ngettext(
        "{n} person joined through your link.", "{n} people joined through your link.", summary.joined
    ).format(n=summary.joined)
    earned = ngettext(
        "Earned: {amount} from {n} purchase.", "Earned: {amount} from {n} purchases.", summary.bonuses
    ).format(amount=fmt(summary.earned), n=summary.bonuses)
    return "\n".join(
        [
            _("🤝 <b>Invite friends</b>"),
            _(
                "Share your link. Whoever starts the bot through it for the first time is your invitee: "
                "you get {share} of each of their purchases that received a code, on your balance."
            ).format(share=percent(summary.percent)),
            "",
            _("Your link:"),
            f"<code>{escape(link)}</code>",
            "",
            joined,
            earned,
        ]
    )


def percent(value: int) -> str:
    """A whole percent as the reader's language writes it (``5 %`` in Russian, ``%5`` in Turkish)."""
    return format_percent(Decimal(value) / 100, locale=languages.current())


def off() -> str:
    return _("🤝 The referral programme is not running at the moment.")


def share_button() -> str:
    return _("📤 Share the link")


def share_text() -> str:
    """The text Telegram's share dialog puts beside the link."""
    return _("Temporary phone numbers for SMS verification codes")
