"""The refund rule: which offers a user gets back on cancel or expiry, and who bears the cost.

* An upstream whose cancel gives the cost back (``Provider.can_cancel``): no code, no charge.
* An upstream with no cancel, one-off number: still no code, no charge for the user; the operator
  writes the number off. One user may cause at most ``write_off_limit`` such write-offs in 24 hours;
  past that, these offers are sold to them as non-refundable, and the confirmation screen says so.
* An upstream with no cancel, multi-day rental: non-refundable once the number is delivered.
* Routing prefers an offer its upstream refunds when it costs at most ``preference_percent`` more
  than the cheapest one.
* A renewal is non-refundable once the upstream confirms it (the extra days are held for the user).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiosqlite

from bot.money.pricing import Quote
from providers.base import Offer
from providers.catalog import Catalog
from storage import order_limits, purchases
from storage.backends import Store
from storage.orders import iso

WRITE_OFF_WINDOW = timedelta(hours=24)


class Terms(enum.StrEnum):
    """What a user gets back when no code arrives."""

    REFUNDABLE = "refundable"  # cancel or expiry without a code refunds the price
    RENTAL = "rental"  # a rental from an upstream with no cancel: paid once delivered
    OVER_LIMIT = "over_limit"  # past the user's daily write-off limit: paid once delivered

    @property
    def refundable(self) -> bool:
        return self is Terms.REFUNDABLE


class RefundPolicy:
    def __init__(self, db: Store, catalog: Catalog, *, preference_percent: int = 10, write_off_limit: int = 3):
        self.db = db
        self.catalog = catalog
        self.preference_percent = preference_percent
        self.write_off_limit = write_off_limit

    def upstream_refunds(self, provider: str) -> bool:
        """The upstream gives the cost back on cancel (unknown upstreams are assumed not to)."""
        found = self.catalog.providers.get(provider)
        return found is not None and found.can_cancel

    def terms(self, offer: Offer, over_limit: bool) -> Terms:
        if self.upstream_refunds(offer.provider):
            return Terms.REFUNDABLE
        if offer.rent_days:
            return Terms.RENTAL
        return Terms.OVER_LIMIT if over_limit else Terms.REFUNDABLE

    async def exposure(
        self, conn: aiosqlite.Connection, user_id: int, now: datetime | None = None, exclude: int | None = None
    ) -> int:
        """Numbers the user left to the operator in 24 h, plus their open refundable orders at upstreams
        with no cancel (each may become one): read in the caller's transaction, so concurrent Confirms
        cannot all slip under the limit."""
        since = iso((now or datetime.now(UTC)) - WRITE_OFF_WINDOW)
        no_cancel = [name for name, provider in self.catalog.providers.items() if not provider.can_cancel]
        settled = await purchases.user_write_offs(conn, user_id, since)
        return settled + await order_limits.count_open_refundable(conn, user_id, no_cancel, exclude)

    async def write_offs_today(self, user_id: int) -> int:
        async with self.db.read() as conn:
            return await purchases.user_write_offs(conn, user_id, iso(datetime.now(UTC) - WRITE_OFF_WINDOW))

    async def over_limit(self, user_id: int) -> bool:
        async with self.db.read() as conn:
            return await self.exposure(conn, user_id) >= self.write_off_limit

    def prefer_refundable(self, quote: Quote, price_of: Callable[[Offer], int | None]) -> Quote:
        """The quote with refundable offers first when they cost at most ``preference_percent`` more
        than the cheapest; its price is then the first offer's, the one routing buys first."""
        if not quote.offers or self.upstream_refunds(quote.offers[0].provider):
            return quote
        band = quote.price * (100 + self.preference_percent)
        preferred = [
            offer
            for offer in quote.offers
            if self.upstream_refunds(offer.provider) and (price := price_of(offer)) is not None and price * 100 <= band
        ]
        if not preferred:
            return quote
        first_price = price_of(preferred[0])
        assert first_price is not None
        rest = [offer for offer in quote.offers if offer not in preferred]
        return replace(quote, offers=(*preferred, *rest), price=first_price)
