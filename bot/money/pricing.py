"""What a user pays: upstream cost converted to the bot's currency, marked up, rounded up to a step.

An admin override per (service, country) wins. An offer whose upstream publishes no price sells at
the override or ``DEFAULT_PRICE``, and never below the marked-up cost seen on an earlier purchase.
An offer whose cost is zero or less, or above ``MAX_AMOUNT`` once converted, is an upstream's bug: it
is never priced, so never offered, and logged once per upstream.
All arithmetic is integer minor units or ``Decimal``; nothing is a float.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from bot.settings import Settings
from providers.base import Offer
from providers.money import exponent, format_minor

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Quote:
    """The one price a user sees for a (service, country): the best in-stock offer's."""

    service: str
    country: str
    price: int  # bot currency, minor units
    stock: int | None
    offers: tuple[Offer, ...]  # in-stock offers, cheapest first
    rent_days: int | None = None


class Pricing:
    def __init__(self, settings: Settings) -> None:
        self.currency = settings.currency
        self.markup = settings.markup_percent
        self.step = max(settings.price_step_minor, 1)
        self.default_price = self._round_up(Decimal(settings.default_price_minor))  # CURRENCY, on the step
        self.usd_rates = settings.usd_rates
        self.overrides: dict[tuple[str, str], int] = {}  # (service, country) -> price
        self.known_costs: dict[tuple[str, str, str], int] = {}  # (provider, service, country) -> cost
        self.max_cost = settings.max_amount_minor  # bot currency: a cost above it is not believed
        self._insane: set[str] = set()  # upstreams already logged for an absurd price

    def convert(self, amount: int, currency: str) -> int | None:
        """Upstream minor units -> bot minor units, rounded up; None without a rate for either side."""
        source, target = currency.upper(), self.currency
        if source == target:
            return amount
        if source not in self.usd_rates or target not in self.usd_rates:
            return None
        major = Decimal(amount).scaleb(-exponent(source)) * self.usd_rates[source] / self.usd_rates[target]
        return int(major.scaleb(exponent(target)).to_integral_value(rounding=ROUND_CEILING))

    def _round_up(self, value: Decimal) -> int:
        steps = (value / self.step).to_integral_value(rounding=ROUND_CEILING)
        return max(int(steps) * self.step, self.step)

    def marked_up(self, cost: int) -> int:
        return self._round_up(Decimal(cost) * (Decimal(100) + self.markup) / Decimal(100))

    def cost_in_bot_currency(self, offer: Offer) -> int | None:
        if offer.cost is not None:
            return self.convert(offer.cost, offer.currency)
        return self.known_costs.get((offer.provider, offer.service, offer.country))

    def sane(self, offer: Offer) -> bool:
        """False for a published cost of zero or less, or above ``MAX_AMOUNT`` once converted (-1, 0 or
        an absurd price from an upstream's bug). The first such offer of each upstream is logged."""
        if offer.cost is None:
            return True
        converted = self.convert(offer.cost, offer.currency)
        if offer.cost > 0 and (converted is None or converted <= self.max_cost):
            return True
        if offer.provider not in self._insane:
            self._insane.add(offer.provider)
            logger.warning(
                "%s lists %s in %s at %s %s: a price of zero or less, or above MAX_AMOUNT, is not sold "
                "(logged once for %s; its other such offers are dropped quietly)",
                offer.provider,
                offer.service,
                offer.country,
                format_minor(offer.cost, offer.currency),
                offer.currency,
                offer.provider,
            )
        return False

    def price(self, offer: Offer) -> int | None:
        """The user's price for one offer, or None when it cannot be priced safely."""
        days = offer.rent_days or 1
        override = self.overrides.get((offer.service, offer.country))
        cost = self.cost_in_bot_currency(offer)
        if offer.cost is not None and cost is None:
            return None  # a price in a currency we have no rate for
        if not self.sane(offer):
            return None
        floor = self.marked_up(cost) if cost is not None else 0
        if override is not None:
            return max(override * days, cost or 0)  # the operator's price, never below what it costs us
        if offer.cost is None:
            return max(self.default_price * days, floor)
        return floor

    def note_cost(self, offer: Offer, cost: int | None, currency: str) -> None:
        """Remember what an upstream charged, so an unpriced offer never sells below it."""
        if cost is None:
            return
        converted = self.convert(cost, currency)
        if converted is not None and 0 < converted <= self.max_cost:  # never remember an absurd cost
            self.known_costs[(offer.provider, offer.service, offer.country)] = converted

    def quotes(self, offers: list[Offer]) -> list[Quote]:
        """Best in-stock price per (service, country, rental length)."""
        grouped: dict[tuple[str, str, int | None], list[tuple[int, Offer]]] = {}
        for offer in offers:
            if offer.stock is not None and offer.stock <= 0:
                continue
            price = self.price(offer)
            if price is not None:
                grouped.setdefault((offer.service, offer.country, offer.rent_days), []).append((price, offer))
        quotes = []
        for (service, country, days), priced in grouped.items():
            priced.sort(key=lambda item: item[0])
            stocks = [o.stock for _, o in priced]
            stock = None if any(s is None for s in stocks) else sum(s for s in stocks if s)
            quotes.append(Quote(service, country, priced[0][0], stock, tuple(o for _, o in priced), days))
        return quotes
