"""Favourites: the (service, country) pairs a user starred on a confirmation screen, shown first in /buy
with today's price.

A pair is kept without a rental length: /buy prices it as the one-off number when one is sold, else as
the shortest rental on sale. A pair no longer on sale stays saved and shows as such (``quote`` None).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.money.pricing import Quote
from bot.orders.placing import OrderService
from storage import favourites as rows
from storage.backends import Store

#: the most favourites one user keeps (and /buy shows)
MAX_FAVOURITES = 10


@dataclass(frozen=True, slots=True)
class Favourite:
    service: str
    country: str
    quote: Quote | None  # today's price; None: not on sale now


class Favourites:
    def __init__(self, db: Store, orders: OrderService, limit: int = MAX_FAVOURITES) -> None:
        self.db = db
        self.orders = orders
        self.limit = limit

    async def is_favourite(self, user_id: int, service: str, country: str) -> bool:
        async with self.db.read() as conn:
            return await rows.exists(conn, user_id, service, country)

    async def set(self, user_id: int, service: str, country: str, on: bool) -> bool:
        """Save (``on``) or drop the pair. False only when saving it would pass the limit: nothing changed."""
        async with self.db.transaction() as conn:
            if not on:
                await rows.remove(conn, user_id, service, country)
                return True
            if await rows.exists(conn, user_id, service, country):
                return True
            if await rows.count(conn, user_id) >= self.limit:
                return False
            await rows.add(conn, user_id, service, country)
        return True

    async def with_prices(self, user_id: int) -> list[Favourite]:
        """The user's favourites, the latest saved first, each with today's quote (None: not on sale).
        The catalog answers from memory (its index by service and country): no upstream is asked."""
        async with self.db.read() as conn:
            pairs = await rows.of_user(conn, user_id, self.limit)
        quoted = await asyncio.gather(*(self.orders.quotes_of(pair.country, pair.service) for pair in pairs))
        return [
            Favourite(pair.service, pair.country, _today(quotes)) for pair, quotes in zip(pairs, quoted, strict=True)
        ]


def _today(quotes: list[Quote]) -> Quote | None:
    """The one-off number's quote, else the shortest rental's; None when nothing is on sale."""
    return min(quotes, key=lambda quote: quote.rent_days or 0, default=None)
