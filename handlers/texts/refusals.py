"""What the bot says instead of acting: a message it did not get, an outdated button, a group chat, a flood,
a banned user, a failure. Each points back to something that works. Pure functions, HTML."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _


def unknown_input() -> str:
    return _("🤔 I did not get that. Tap Menu, or send /help.")


def outdated_button() -> str:
    return _("This button is outdated. Send /start for a fresh menu.")


def private_chat_only(link: str | None) -> str:
    """The one answer in a group or a channel: the link to the private chat, if the bot's username is known."""
    if link:
        return _("🔒 I work in a private chat only: {link}").format(link=link)
    return _("🔒 I work in a private chat only: open a chat with me to buy numbers.")


def too_fast() -> str:
    return _("⏳ Too fast. Please wait a few seconds.")


def banned() -> str:
    return _("You are banned from this bot.")


def failed() -> str:
    """A handler failed: nothing tells what, and trying again may work."""
    return _("⚠️ Something went wrong. Please try again.")
