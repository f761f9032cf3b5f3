"""Last resort for taps no other router took: old buttons after an update, or data that makes no sense."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _

router = Router(name=__name__)


@router.callback_query()
async def outdated_button(query: CallbackQuery) -> None:
    await query.answer(_("This button is outdated. Send /start for a fresh menu."), show_alert=True)
