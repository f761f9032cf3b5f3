"""Broadcast screens as pure builders: the audience and confirm keyboards, the URL button, progress texts."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.callbacks import BcAudienceCb, BcCancelCb, BcConfirmCb
from storage.broadcasts import Counts

#: the audience buttons, in order: (kind, days)
AUDIENCE_CHOICES = (("all", 0), ("active", 7), ("active", 30), ("balance", 0), ("buyers", 0))


def audience_key(kind: str, days: int = 0) -> str:
    """The stored audience: ``all``, ``active:<days>``, ``balance`` or ``buyers``."""
    return f"active:{days}" if kind == "active" else kind


def audience_name(audience: str) -> str:
    kind, _sep, days = audience.partition(":")
    if kind == "active":
        return _("Active in the last {days} days").format(days=days)
    return {
        "all": _("All users"),
        "balance": _("With a balance"),
        "buyers": _("Bought at least once"),
    }.get(kind, audience)


def audiences() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for kind, days in AUDIENCE_CHOICES:
        kb.button(text=audience_name(audience_key(kind, days)), callback_data=BcAudienceCb(kind=kind, days=days))
    kb.button(text=_("✖️ Cancel"), callback_data=BcConfirmCb(action="no"))
    kb.adjust(1)
    return kb.as_markup()


def confirm() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Confirm and send"), callback_data=BcConfirmCb(action="go"))
    kb.button(text=_("✖️ Cancel"), callback_data=BcConfirmCb(action="no"))
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
    title = {
        "running": _("📣 <b>Broadcast #{id}</b> is being sent"),
        "done": _("✅ <b>Broadcast #{id}</b> finished"),
        "cancelled": _("⏹ <b>Broadcast #{id}</b> was cancelled"),
    }.get(status, _("📣 <b>Broadcast #{id}</b>"))
    lines = [
        title.format(id=broadcast_id),
        _("Audience: {name} · {total} recipients").format(name=escape(audience_name(audience)), total=counts.total),
        _("Sent: {n}").format(n=counts.sent),
        _("Unreachable (blocked the bot): {n}").format(n=counts.unreachable),
        _("Failed: {n}").format(n=counts.failed),
    ]
    remaining = counts.pending + counts.sending
    if status == "running":
        lines.append(_("Remaining: {n}").format(n=remaining))
    elif remaining:
        lines.append(_("Not sent: {n}").format(n=remaining))
    return "\n".join(lines)
