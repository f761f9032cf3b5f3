"""What a user pays: upstream cost converted to the bot's currency, marked up, rounded up."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from bot.settings import Settings
from providers.base import Offer
from providers.money import exponent


@dataclass(frozen=True, slots=True)
class Quote:
    """The one price a user sees for a (service, country): the best in-stock offer's."""

    service: str
    country: str
    price: int  # bot currency, minor units
    stock: int | None
    offers: tuple[Offer, ...]  # in-stock offers, cheapest first


class Pricing:
    def __init__(self, settings: Settings) -> None:
        self.currency = settings.currency
        self.markup = settings.markup_percent
        self.default_price = settings.default_price_minor

    def convert(self, amount: int, currency: str) -> int | None:
        """Upstream minor units -> bot minor units, rounded up; None without a rate."""
        if currency.upper() != self.currency:
            return None
        return amount

    def price(self, offer: Offer) -> int | None:
        """The user's price for one offer, or None when it cannot be priced safely."""
        if offer.cost is None:
            return self.default_price
        cost = self.convert(offer.cost, offer.currency)
        if cost is None:
            return None
        marked = Decimal(cost) * (Decimal(100) + self.markup) / Decimal(100)
        return max(int(marked.to_integral_value(rounding=ROUND_CEILING)), 1)

    def quotes(self, offers: list[Offer]) -> list[Quote]:
        """Best in-stock price per (service, country), ordered by service display order."""
        grouped: dict[tuple[str, str], list[tuple[int, Offer]]] = {}
        for offer in offers:
            if offer.stock is not None and offer.stock <= 0:
                continue
            price = self.price(offer)
            if price is not None:
                grouped.setdefault((offer.service, offer.country), []).append((price, offer))
        quotes = []
        for (service, country), priced in grouped.items():
            priced.sort(key=lambda item: item[0])
            stocks = [o.stock for _, o in priced]
            stock = None if any(s is None for s in stocks) else sum(s for s in stocks if s)
            quotes.append(Quote(service, country, priced[0][0], stock, tuple(o for _, o in priced)))
        return quotes

    def minor_exponent(self) -> int:
        return exponent(self.currency)
