"""Texts of search by typing, the service-first screen (where a service is sold, cheapest first), the
popular services and the deep links. Pure functions, HTML."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.money.pricing import Quote
from handlers.texts import labels
from providers.names import flag

#: how many of the cheapest countries the service-first screen names in its summary line
SUMMARY = 5
#: a typed text is quoted back at most this long
QUOTED = 40


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return escape(text if len(text) <= QUOTED else text[: QUOTED - 1] + "…")


def service_countries(service: str, quotes: list[Quote], fmt: Callable[[int], str]) -> str:
    """The service-first screen: "WhatsApp: 🇮🇩 0.16 USD · 🇮🇳 0.19 USD · …", then what to tap."""
    name = escape(labels.service(service))
    if not quotes:
        return _(
            "<b>{service}</b> is not on sale anywhere right now. Please try again later, or pick a popular service."
        ).format(service=name)
    cheapest = " · ".join(f"{flag(q.country)} {fmt(q.price)}" for q in quotes[:SUMMARY])
    more = "" if len(quotes) <= SUMMARY else " · …"
    summary = labels.line(f"<b>{name}</b>: {cheapest}{more}")
    hint = ngettext(
        "Sold in {n} country, cheapest first. Choose one:",
        "Sold in {n} countries, cheapest first. Choose one:",
        len({q.country for q in quotes}),
    ).format(n=len({q.country for q in quotes}))
    return f"{summary}\n{hint}"


def country_button(quote: Quote, fmt: Callable[[int], str]) -> str:
    """A country on the service-first screen: flag, name, the rental length, price and stock."""
    label = f"{flag(quote.country)} {labels.country(quote.country)}"
    if quote.rent_days:
        days = quote.rent_days
        label += " · " + ngettext("{days} day", "{days} days", days).format(days=days)
    label += f" · {fmt(quote.price)}"
    if quote.stock is not None:
        label += " · " + ngettext("{n} left", "{n} left", quote.stock).format(n=quote.stock)
    return labels.line(label)


def popular(any_on_sale: bool) -> str:
    if any_on_sale:
        return _("🔥 <b>Popular services</b>\nChoose one to see where it is cheapest, or just type a name.")
    return _("No numbers are on sale right now. Please try again in a few minutes.")


def popular_button() -> str:
    return _("🔥 Popular services")


def by_country_button() -> str:
    return _("🌍 By country")


def no_hit(text: str, suggestions: list[str]) -> str:
    """Nothing matched what the user typed: say so, and name the closest services and countries."""
    lines = [_("🔍 Nothing found for “{text}”.").format(text=_quoted(text))]
    if suggestions:
        names = ", ".join(escape(name) for name in suggestions)
        lines.append(_("Did you mean: {names}?").format(names=names))
    else:
        lines.append(_("Type the name of a service (WhatsApp, Telegram…) or of a country, or choose below."))
    return "\n".join(lines)


def link_unknown(payload: str) -> str:
    """A deep link whose service and country are not on sale: what it was searched as comes below."""
    return _("The link’s number ({payload}) is not on sale right now. Here is what we found instead:").format(
        payload=_quoted(payload)
    )
