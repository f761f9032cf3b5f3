"""Texts of /language and of the bot's profile (description, short description). Pure functions, HTML."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from bot.languages import native_name


def choose() -> str:
    return _("🌐 Choose the language of the bot:")


def chosen(language: str) -> str:
    """Said in the language just picked."""
    return _("✅ The bot now speaks {language}.").format(language=native_name(language))


def description() -> str:
    """The bot's profile, shown in an empty chat before /start (``setMyDescription``: at most 512 characters,
    plain text)."""
    return _(
        "Temporary phone numbers for verification codes: WhatsApp, Telegram, Google and hundreds more, in "
        "dozens of countries. Pick a country and a service, see the price, get a number; the code arrives "
        "in this chat. No code, no charge: cancelled or expired orders are refunded."
    )


def short_description() -> str:
    """The line on the bot's profile page and in shared links (``setMyShortDescription``: at most 120
    characters, plain text)."""
    return _("Numbers for SMS verification codes. No code, no charge.")
