"""Inline keyboards of the operator's panel, as pure builders. Every way back to the panel's menu is the one
:func:`menu_button`."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.operator.upstreams import UpstreamInfo
from handlers.admin.texts.upstreams import toggle_button
from handlers.callbacks import AdminCb, AdminUpstreamCb, AdminUserCb
from storage.users import User


def menu_button() -> InlineKeyboardButton:
    """``⬅️ Admin menu``: back to the panel's menu, under every panel screen."""
    return InlineKeyboardButton(text=_("⬅️ Admin menu"), callback_data=AdminCb(action="menu").pack())


def _refresh(screen: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("🔄 Refresh"), callback_data=AdminCb(action=screen).pack())


def menu() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📊 Stats"), callback_data=AdminCb(action="stats"))
    kb.button(text=_("👥 Users"), callback_data=AdminCb(action="users"))
    kb.button(text=_("🔌 Upstreams"), callback_data=AdminCb(action="upstreams"))
    kb.button(text=_("🏷 Prices"), callback_data=AdminCb(action="prices"))
    kb.adjust(2)
    return kb.as_markup()


def back(refresh: str | None = None) -> InlineKeyboardMarkup:
    """``⬅️ Admin menu``, under a refresh button for screen ``refresh`` when given."""
    rows = [[_refresh(refresh)]] if refresh else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [menu_button()]])


def user_card(user: User) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("➕ Credit"), callback_data=AdminUserCb(action="credit", user_id=user.id))
    kb.button(text=_("➖ Debit"), callback_data=AdminUserCb(action="debit", user_id=user.id))
    if user.is_banned:
        kb.button(text=_("✅ Unban"), callback_data=AdminUserCb(action="unban", user_id=user.id))
    else:
        kb.button(text=_("🚫 Ban"), callback_data=AdminUserCb(action="ban", user_id=user.id))
    kb.adjust(2, 1)
    kb.row(menu_button())
    return kb.as_markup()


def cancel_adjust(user_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✖️ Cancel"), callback_data=AdminUserCb(action="show", user_id=user_id))
    return kb.as_markup()


def upstreams(infos: list[UpstreamInfo]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for info in infos:
        kb.button(
            text=toggle_button(info.name, info.enabled),
            callback_data=AdminUpstreamCb(name=info.name, enable=not info.enabled),
        )
    kb.adjust(1)
    kb.row(_refresh("upstreams"))
    kb.row(menu_button())
    return kb.as_markup()
