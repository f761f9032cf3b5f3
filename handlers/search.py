"""Search by typing: any text that is no command finds a service (the service-first screen: the countries
where it is sold, cheapest first) or a country (its services), else says so and suggests the closest names.
Also the popular services (the /buy screen's "🔥 Popular services" tap)."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot import languages
from bot.money.billing import Billing
from bot.orders.placing import OrderService
from bot.shop.search import Hit
from bot.shop.shop import Shop
from handlers import keyboards, shop_keyboards
from handlers.callbacks import MenuCb, ServiceCountriesCb
from handlers.filters import on_loop
from handlers.screens import show
from handlers.texts import buy as buy_texts
from handlers.texts import labels
from handlers.texts import search as texts

logger = logging.getLogger(__name__)

router = Router(name=__name__)


def _with(note: str | None, text: str) -> str:
    return f"{note}\n\n{text}" if note else text


async def service_countries(
    target: Message | CallbackQuery,
    service: str,
    shop: Shop,
    billing: Billing,
    page: int = 0,
    note: str | None = None,
) -> None:
    """Service first: the countries where ``service`` is sold, cheapest first, with price and stock."""
    quotes = await shop.service_quotes(service)
    text = texts.service_countries(service, quotes, billing.fmt)
    await show(target, _with(note, text), shop_keyboards.service_countries(service, quotes, page, billing.fmt))


async def country_services(
    target: Message | CallbackQuery, country: str, orders: OrderService, billing: Billing, note: str | None = None
) -> None:
    """A country's services: the screen a tap on the country in /buy opens."""
    quotes = sorted(await orders.quotes(country), key=lambda q: labels.service(q.service).lower())
    markup = keyboards.services(country, quotes, 0, billing.fmt) if quotes else keyboards.countries([], 0)
    await show(target, _with(note, buy_texts.choose_service(country, bool(quotes))), markup)


async def search(
    target: Message | CallbackQuery,
    text: str,
    shop: Shop,
    orders: OrderService,
    billing: Billing,
    note: str | None = None,
) -> None:
    """What ``text`` names, on its screen; nothing: says so, with the closest names as buttons."""
    found = await shop.find(text, languages.current())
    hit = found.hit
    if hit is not None and hit.kind == "service":
        await service_countries(target, hit.key, shop, billing, note=note)
    elif hit is not None:
        await country_services(target, hit.key, orders, billing, note=note)
    else:
        hits = list(found.suggestions)
        names = [shop_keyboards.suggestion_label(h) for h in hits]
        if not hits:  # nothing close: the popular services are the best guess, as buttons
            hits = [Hit("service", slug, 0.0) for slug in (await shop.popular())[:4]]
        await show(target, _with(note, texts.no_hit(text, names)), shop_keyboards.suggestions(hits))
    logger.debug("search %r: %s", text[:64], hit)


@router.message(on_loop(F.text & ~F.text.startswith("/")))
async def typed(message: Message, shop: Shop, orders: OrderService, billing: Billing) -> None:
    await search(message, message.text or "", shop, orders, billing)


@router.callback_query(ServiceCountriesCb.filter())
async def service_countries_page(
    query: CallbackQuery, callback_data: ServiceCountriesCb, shop: Shop, billing: Billing
) -> None:
    await service_countries(query, callback_data.service, shop, billing, callback_data.page)


@router.callback_query(MenuCb.filter(F.action == "popular"))
async def popular(query: CallbackQuery, shop: Shop) -> None:
    services = await shop.popular()
    await show(query, texts.popular(bool(services)), shop_keyboards.popular(services))
