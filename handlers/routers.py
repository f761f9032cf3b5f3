"""aiogram routers: one per screen, assembled in order by :func:`build_router`."""

from __future__ import annotations

from aiogram import Router

from handlers import (
    balance,
    buy,
    errors,
    fallback,
    orders,
    payments,
    promos,
    start,
    strays,
)
from handlers.admin import accounts as admin_user
from handlers.admin import broadcast, stars_refunds
from handlers.admin import commands as admin
from handlers.admin import panel as admin_panel
from handlers.admin import promos as admin_promos


def build_router() -> Router:
    root = Router(name="root")
    root.include_routers(
        errors.router,
        strays.router,  # groups, channels, taps on unseen messages: before any screen
        stars_refunds.router,
        payments.router,  # before the admin wizards, whose states take any message: a payment is never one
        admin.router,
        broadcast.router,
        admin_promos.router,
        admin_panel.router,
        admin_user.router,
        admin_panel.not_admin_router,
        admin.not_admin_router,
        start.router,
        buy.router,
        orders.router,
        balance.router,
        promos.router,
        fallback.router,  # last: any tap or message nothing else took is answered, never left spinning
    )
    return root
