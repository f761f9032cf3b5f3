"""Texts of /start and /help: the welcome, how it works, and the commands. Pure functions, HTML."""

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
