"""Maintenance mode: what users and admins are told while the database cannot be used.

Once the database file is found deleted or replaced (:class:`storage.db.DatabaseGone`), every
transaction is refused, so no money moves. Users get :func:`maintenance_text` instead of "something
went wrong" (``handlers/errors.py`` renders it for any update that hit the error); the admins get
:func:`database_alert` once (:mod:`bot.watchdog`). Call both inside an i18n context.
"""

from __future__ import annotations

import html

from aiogram.utils.i18n import gettext as _


def maintenance_text() -> str:
    return _("🛠 The bot is under maintenance. Nothing was charged; please try again later.")


def database_alert(problem: str) -> str:
    return _(
        "🛑 The database is unusable: {problem}.\n"
        "The bot takes no orders and no money and tells users it is under maintenance. Put the "
        "database file back (from the latest backup), then restart the bot."
    ).format(problem=html.escape(problem))
