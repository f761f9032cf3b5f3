"""Keyboards of search by typing, the service-first screen and the popular services: pure builders."""

from __future__ import annotations

import re
from collections.abc import Callable

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.money.pricing import Quote
from bot.shop.search import Hit
from handlers.callbacks import CountriesCb, CountryCb, MenuCb, ServiceCb, ServiceCountriesCb
from handlers.keyboards import PAGE_SIZE, in_rows, menu_button
from handlers.texts import labels
from handlers.texts import search as texts
from providers.names import flag

#: what a catalog key must look like to ride in callback data (an odd upstream name gets no button)
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def fits(key: str) -> bool:
    return bool(_KEY.match(key))


def _popular() -> InlineKeyboardButton:
    return _button(texts.popular_button(), MenuCb(action="popular"))


def service_countries(service: str, quotes: list[Quote], page: int, fmt: Callable[[int], str]) -> InlineKeyboardMarkup:
    """One button per country (cheapest first) opening its confirmation; pages of ``PAGE_SIZE``."""
    pages = max((len(quotes) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(page, 0), pages - 1)
    shown = [q for q in quotes[page * PAGE_SIZE : (page + 1) * PAGE_SIZE] if fits(q.country)]
    rows = [
        [_button(texts.country_button(q, fmt), ServiceCb(country=q.country, service=service, days=q.rent_days or 0))]
        for q in shown
    ]
    nav = []
    if page > 0:
        nav.append(_button("◀️", ServiceCountriesCb(service=service, page=page - 1)))
    if pages > 1:
        nav.append(_button(f"{page + 1}/{pages}", ServiceCountriesCb(service=service, page=page)))
    if page + 1 < pages:
        nav.append(_button("▶️", ServiceCountriesCb(service=service, page=page + 1)))
    return InlineKeyboardMarkup(inline_keyboard=[*rows, *([nav] if nav else []), [_popular(), menu_button()]])


def popular(services: list[str]) -> InlineKeyboardMarkup:
    """The popular services, two a row, each opening where it is sold; then by country, and the menu."""
    buttons = [
        _button(labels.line(labels.service(slug)), ServiceCountriesCb(service=slug)) for slug in services if fits(slug)
    ]
    by_country = _button(texts.by_country_button(), CountriesCb(page=0))
    return InlineKeyboardMarkup(inline_keyboard=[*in_rows(buttons, 2), [by_country], [menu_button()]])


def suggestion_label(hit: Hit) -> str:
    if hit.kind == "service":
        return labels.service(hit.key)
    return f"{flag(hit.key)} {labels.country(hit.key)}"


def suggestions(hits: list[Hit]) -> InlineKeyboardMarkup:
    """The closest names to a text that found nothing, each opening its screen; then popular, and the menu."""
    buttons = []
    for hit in hits:
        if not fits(hit.key):
            continue
        data: CallbackData = (
            ServiceCountriesCb(service=hit.key) if hit.kind == "service" else CountryCb(country=hit.key)
        )
        buttons.append(_button(labels.line(suggestion_label(hit)), data))
    return InlineKeyboardMarkup(inline_keyboard=[*in_rows(buttons, 2), [_popular(), menu_button()]])
