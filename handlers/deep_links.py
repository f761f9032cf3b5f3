"""Deep links for the operator's ads: ``t.me/<bot>?start=<service>-<country>`` (``whatsapp-US``) opens that
number's confirmation screen. A pair not on sale, or a payload of another shape (``whatsapp``), is searched
for instead. Referral payloads (``r<digits>``) are not taken here: handlers/referral.py binds those."""

from __future__ import annotations

import logging
import re

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import Message

from bot.money.billing import Billing
from bot.orders.favourites import Favourites
from bot.orders.placing import OrderService
from bot.shop.shop import Shop
from handlers.buy import show_confirmation
from handlers.search import search
from handlers.texts import search as texts
from storage.users import User

logger = logging.getLogger(__name__)

router = Router(name=__name__)

#: a shop payload: a service slug, optionally ``-`` and a country code; never a referral (``r`` and digits)
PAYLOAD = re.compile(r"^(?!r\d+$)[A-Za-z0-9_]{1,40}(?:-[A-Za-z]{2})?$")


def pair(payload: str) -> tuple[str, str] | None:
    """(service, country) of ``whatsapp-US`` (any case); None for a payload without a country."""
    service, dash, country = payload.rpartition("-")
    if not dash or not service:
        return None
    return service.lower(), country.upper()


@router.message(CommandStart(deep_link=True, magic=F.args.regexp(PAYLOAD)))
async def opened_link(
    message: Message,
    command: CommandObject,
    shop: Shop,
    orders: OrderService,
    billing: Billing,
    user: User,
    favourites: Favourites,
) -> None:
    payload = command.args or ""
    found = pair(payload)
    quote = await shop.quote(*found) if found else None
    if quote is not None:
        await show_confirmation(message, quote, orders, billing, user.id, user.balance, favourites=favourites)
        return
    logger.info("deep link %r: not on sale, searched instead", payload)
    words = payload.replace("-", " ").replace("_", " ")
    await search(message, words, shop, orders, billing, note=texts.link_unknown(payload))
