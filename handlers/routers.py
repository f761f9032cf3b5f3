"""aiogram routers: one per screen, assembled in order by :func:`build_router`."""

from __future__ import annotations

from aiogram import Router

from handlers import (
    admin,
    balance,
    buy,
    errors,
    fallback,
    language,
    orders,
    payments,
    promos,
    start,
    strays,
)
from handlers.callback_answers import CallbackAnswers


def build_router() -> Router:
    root = Router(name="root")
    CallbackAnswers().setup(root)  # every tap answered once: after its handler, or after the error handlers
    root.include_routers(
        errors.router,
        strays.router,  # groups, channels, taps on unseen messages: before any screen
        payments.router,  # before the admin wizards, whose states take any message: a payment is never one
        admin.router,  # admins only (the filter is on the router); its forms take any message while they wait
        admin.refusal,  # everyone else's admin commands: one refusal, before any user screen
        start.router,
        language.router,
        buy.router,
        orders.router,
        balance.router,
        promos.router,
        fallback.router,  # last: any tap or message nothing else took is answered, never left spinning
    )
    return root
