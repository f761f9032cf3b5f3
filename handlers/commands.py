"""The user's commands, in one list: Telegram's command menu (``setMyCommands``) and the lines of /help
are both made from it, so a command added here is offered in both places."""

from __future__ import annotations

from html import escape
from typing import NamedTuple

from aiogram.types import BotCommand
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n.lazy_proxy import LazyProxy

from handlers.texts import labels


class UserCommand(NamedTuple):
    command: str  # without the slash
    description: LazyProxy  # translated when shown


#: in the order of Telegram's command menu
USER_COMMANDS = (
    UserCommand("buy", __("Buy a number")),
    UserCommand("balance", __("Balance and history")),
    UserCommand("topup", __("Top up with Telegram Stars")),
    UserCommand("orders", __("My orders")),
    UserCommand("promo", __("Redeem a promo code")),
    UserCommand("referral", __("Invite friends, earn a bonus")),
    UserCommand("paysupport", __("Help with a payment")),
    UserCommand("terms", __("Terms and refunds")),
    UserCommand("language", __("Change the language")),
    UserCommand("help", __("How it works")),
)


def bot_commands() -> list[BotCommand]:
    """The menu for ``setMyCommands``, translated: call inside an i18n context."""
    return [BotCommand(command=c.command, description=str(c.description)) for c in USER_COMMANDS]


def command_lines() -> list[str]:
    """One HTML line per command, ``/buy — Buy a number``, for /help: call inside an i18n context."""
    return [labels.line(f"/{c.command} — {escape(str(c.description))}") for c in USER_COMMANDS]
