"""aiogram routers: one per screen, assembled in order by :func:`build_router`."""

from __future__ import annotations

from aiogram import Router

from handlers import admin, balance, buy, errors, orders, start


def build_router() -> Router:
    root = Router(name="root")
    root.include_routers(
        errors.router,
        admin.router,
        admin.not_admin_router,
        start.router,
        buy.router,
        orders.router,
        balance.router,
    )
    return root
