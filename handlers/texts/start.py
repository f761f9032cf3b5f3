"""Texts of /start and /help (the welcome, how it works, the commands) and of the hints that lead back to
them from a stray message, an outdated button or a group chat. Pure functions, HTML."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from handlers.commands import command_lines


def welcome() -> str:
    return _(
        "👋 <b>Welcome!</b>\n"
        "Get a temporary phone number, receive the verification code right here.\n"
        "No code, no charge: cancelled or expired orders are refunded, unless the confirmation said "
        "the number is not refundable."
    )


def help_text() -> str:
    """How it works, then every command of the bot's menu (the same list as ``setMyCommands``)."""
    how = _(
        "<b>How it works</b>\n"
        "1. Top up your balance.\n"
        "2. Buy a number: pick a country and a service, confirm the price.\n"
        "3. Enter the number in the app; the code is sent to this chat as soon as it arrives.\n"
        "4. No code before the order expires, or you cancel it first: the price is refunded. A few numbers "
        "(rentals, and some suppliers' numbers once you have left several unused) are not refundable: "
        "the confirmation screen says so before you pay."
    )
    return "\n".join([how, "", _("<b>Commands</b>"), *command_lines()])


def unknown_input() -> str:
    return _("🤔 I did not get that. Tap Menu, or send /help.")


def outdated_button() -> str:
    return _("This button is outdated. Send /start for a fresh menu.")


def private_chat_only(link: str | None) -> str:
    """The one answer in a group or a channel: the link to the private chat, if the bot's username is known."""
    if link:
        return _("🔒 I work in a private chat only: {link}").format(link=link)
    return _("🔒 I work in a private chat only: open a chat with me to buy numbers.")
