"""The shop's front: search by typing, service first (the countries where a service is sold, cheapest
first) and the popular services. Read-only: buying stays with :class:`bot.orders.placing.OrderService`."""

from __future__ import annotations

import time

from bot.money.pricing import Quote
from bot.orders.placing import OrderService
from bot.shop.popular import Popular
from bot.shop.search import Found, known_services, search


class Shop:
    def __init__(self, orders: OrderService, popular: Popular, on_sale_ttl: float = 30.0) -> None:
        self.orders = orders
        self.popular_list = popular
        self.on_sale_ttl = on_sale_ttl
        self._on_sale: tuple[float, frozenset[str]] | None = None

    async def on_sale(self) -> frozenset[str]:
        """The services with an offer in stock at any upstream (remembered for ``on_sale_ttl`` seconds)."""
        now = time.monotonic()
        if self._on_sale is None or now - self._on_sale[0] >= self.on_sale_ttl:
            offers = await self.orders.catalog.offers()
            self._on_sale = (now, frozenset(o.service for o in offers if o.stock is None or o.stock > 0))
        return self._on_sale[1]

    async def find(self, text: str, locale: str) -> Found:
        """The service or country ``text`` names in ``locale`` (or English), else the closest names."""
        return search(text, locale, known_services(await self.on_sale()))

    async def service_quotes(self, service: str) -> list[Quote]:
        """Where ``service`` is sold: one quote per country (and rental length), one-off numbers first,
        cheapest first."""
        orders = self.orders
        found = orders.pricing.quotes(await orders.catalog.offers(service=service))
        quotes = [orders.policy.prefer_refundable(quote, orders.pricing.price) for quote in found]
        return sorted(quotes, key=lambda q: (q.rent_days is not None, q.price, q.rent_days or 0, q.country))

    async def quote(self, service: str, country: str) -> Quote | None:
        """The one-off number of ``service`` in ``country``, if sold (a deep link's pair)."""
        return await self.orders.quote(country, service, None)

    async def popular(self) -> list[str]:
        """The popular services on sale now, best sellers of the last 7 days first."""
        return await self.popular_list.services(await self.on_sale())
