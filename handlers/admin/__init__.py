"""The operator's side of the bot, one router for all of it.

:data:`router` carries :class:`~handlers.admin.access.IsAdmin` on its message and callback observers, so
no module below checks access again and nobody else ever reaches them; :data:`refusal` answers everyone
else's admin commands, the same way for all of them. Include both, in this order, after the payments router
(the forms here take any message while they wait; a payment is never one).

The order inside matters too: a form waiting for "any message" (the broadcast) sees what the routers before
it did not take, so the commands that must work even mid-form come first.
"""

from __future__ import annotations

from aiogram import Router

from handlers.admin import access, accounts, audit, balance_changes, broadcast, panel, promos, stars_refunds

router = Router(name=__name__)
router.message.filter(access.IsAdmin())
router.callback_query.filter(access.IsAdmin())
router.include_routers(
    stars_refunds.router,
    balance_changes.router,
    audit.router,
    broadcast.router,  # its first step takes any message: what comes after is not a command mid-form
    promos.router,
    panel.router,
    accounts.router,
)

refusal = access.router
