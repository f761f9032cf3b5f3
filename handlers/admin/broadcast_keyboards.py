"""Broadcast screens as pure builders: the audience and confirm keyboards, the URL button, the progress.

This module is the broadcast service's view (:class:`bot.operator.broadcasts.BroadcastView`): keep
:func:`progress_text`, :func:`progress` and :func:`url_button` here, with these names and signatures.
"""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.admin.texts import broadcast as texts
from handlers.callbacks import BcAudienceCb, BcCancelCb, BcConfirmCb
from storage.broadcasts import Counts

#: the audience buttons, in order: (kind, days)
AUDIENCE_CHOICES = (("all", 0), ("active", 7), ("active", 30), ("balance", 0), ("buyers", 0))


def audience_key(kind: str, days: int = 0) -> str:
    """The stored audience: ``all``, ``active:<days>``, ``balance`` or ``buyers``."""
    return f"active:{days}" if kind == "active" else kind


def _cancel(kb: InlineKeyboardBuilder) -> None:
    kb.button(text=_("✖️ Cancel"), callback_data=BcConfirmCb(action="no"))


def audiences() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for kind, days in AUDIENCE_CHOICES:
        kb.button(text=texts.audience_name(audience_key(kind, days)), callback_data=BcAudienceCb(kind=kind, days=days))
    _cancel(kb)
    kb.adjust(1)
    return kb.as_markup()


def confirm() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Confirm and send"), callback_data=BcConfirmCb(action="go"))
    _cancel(kb)
    kb.adjust(2)
    return kb.as_markup()


def url_button(text: str | None, url: str | None) -> InlineKeyboardMarkup | None:
    """The optional button under the broadcast message."""
    if not text or not url:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=text, url=url)]])


def progress(broadcast_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("⏹ Cancel the broadcast"), callback_data=BcCancelCb(broadcast_id=broadcast_id))
    return kb.as_markup()


def progress_text(broadcast_id: int, audience: str, counts: Counts, status: str) -> str:
    """The progress message (``status`` running) or the final report (done / cancelled)."""
    return texts.progress_text(broadcast_id, audience, counts, status)
