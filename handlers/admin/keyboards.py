"""Inline keyboards of the operator's panel, as pure builders. Every way back to the panel's menu is the one
:func:`menu_button`."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.operator.upstreams import UpstreamInfo
from handlers.admin.texts.upstreams import toggle_button
from handlers.callbacks import AdminCb, AdminUpstreamCb, AdminUserCb
from handlers.keyboards import in_rows
from storage.users import User


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def menu_button() -> InlineKeyboardButton:
    """``⬅️ Admin menu``: back to the panel's menu, under every panel screen."""
    return _button(_("⬅️ Admin menu"), AdminCb(action="menu"))


def _refresh(screen: str) -> InlineKeyboardButton:
    return _button(_("🔄 Refresh"), AdminCb(action=screen))


def menu() -> InlineKeyboardMarkup:
    screens = [
        (_("📊 Stats"), "stats"),
        (_("👥 Users"), "users"),
        (_("🔌 Upstreams"), "upstreams"),
        (_("🏷 Prices"), "prices"),
    ]
    buttons = [_button(text, AdminCb(action=action)) for text, action in screens]
    return InlineKeyboardMarkup(inline_keyboard=in_rows(buttons, 2))


def back(refresh: str | None = None) -> InlineKeyboardMarkup:
    """``⬅️ Admin menu``, under a refresh button for screen ``refresh`` when given."""
    rows = [[_refresh(refresh)]] if refresh else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [menu_button()]])


def user_card(user: User) -> InlineKeyboardMarkup:
    def tap(text: str, action: str) -> InlineKeyboardButton:
        return _button(text, AdminUserCb(action=action, user_id=user.id))

    ban = tap(_("✅ Unban"), "unban") if user.is_banned else tap(_("🚫 Ban"), "ban")
    money = [tap(_("➕ Credit"), "credit"), tap(_("➖ Debit"), "debit")]
    return InlineKeyboardMarkup(inline_keyboard=[money, [ban], [menu_button()]])


def cancel_adjust(user_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(_("✖️ Cancel"), AdminUserCb(action="show", user_id=user_id))]])


def upstreams(infos: list[UpstreamInfo]) -> InlineKeyboardMarkup:
    rows = [
        [_button(toggle_button(info.name, info.enabled), AdminUpstreamCb(name=info.name, enable=not info.enabled))]
        for info in infos
    ]
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [_refresh("upstreams")], [menu_button()]])
