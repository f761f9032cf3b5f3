"""aiogram routers: one per screen, assembled in order by :func:`build_router`."""

from __future__ import annotations

from aiogram import Router

from handlers import (
    admin,
    balance,
    buy,
    deep_links,
    errors,
    fallback,
    language,
    orders,
    payments,
    promos,
    referral,
    search,
    sms_reply,
    start,
    strays,
    support,
)
from handlers.callback_answers import CallbackAnswers


def build_router() -> Router:
    root = Router(name="root")
    CallbackAnswers().setup(root)  # every tap answered once: after its handler, or after the error handlers
    root.include_routers(
        errors.router,
        strays.router,  # groups, channels, taps on unseen messages: before any screen
        payments.router,  # before the admin wizards, whose states take any message: a payment is never one
        support.router,  # /paysupport's message and an admin's reply to one: before the admin forms
        admin.router,  # admins only (the filter is on the router); its forms take any message while they wait
        admin.refusal,  # everyone else's admin commands: one refusal, before any user screen
        deep_links.router,  # /start with a <service>-<country> payload: the confirmation screen
        referral.router,  # /start with a referral payload binds the inviter, then greets
        start.router,
        language.router,
        buy.router,
        orders.router,
        balance.router,
        promos.router,
        sms_reply.router,  # the text of an SMS to send while one is asked for
        search.router,  # any other text: a search of services and countries
        fallback.router,  # last: any tap or message nothing else took is answered, never left spinning
    )
    return root
