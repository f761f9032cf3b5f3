"""Buying at the upstreams for a placed order: routing, failover, unclear answers, activation, orphans.

Routing: the offers of a quote are tried in order (refundable ones first within the preference
band, then cheapest first); out of stock, unavailable and the like move on to the next offer as long
as its price stays within what the user confirmed and its refund terms are the ones the user saw.
A paid request whose outcome is unclear is never re-sent: the order becomes ``unknown`` and is
resolved by :class:`bot.orders.tracking.Tracker`. Every upstream call has a deadline well under the grace
period, the order is checked before each attempt, and a number bought for an order that was settled
meanwhile is cancelled upstream or written off, never left unrecorded.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bot.faults import crash_point
from bot.money.pricing import Pricing, Quote
from bot.orders import settlement
from bot.orders.outcomes import Outcome, Result
from bot.orders.refunds import RefundPolicy, Terms
from bot.orders.settlement import Inflight, Statuses, Upstream
from providers.base import Offer, Purchase
from providers.catalog import Catalog
from providers.errors import ProviderError, UnclearResult
from storage import orders as order_rows
from storage.backends import Store
from storage.orders import Order, OrderStatus
from storage.purchases import WriteOff

if TYPE_CHECKING:
    from bot.orders.leases import Leases
    from bot.orders.placing import Limits

logger = logging.getLogger(__name__)


def _bought_at(offer: Offer, terms: Terms) -> dict[str, object]:
    """The columns an order takes from the offer it is being bought at."""
    return {
        "provider": offer.provider,
        "product_id": offer.product_id,
        "cost_currency": offer.currency,
        "refundable": int(terms.refundable),
    }


class Buying:
    """The upstream half of :class:`bot.orders.placing.OrderService`."""

    db: Store
    catalog: Catalog
    pricing: Pricing
    policy: RefundPolicy
    limits: Limits
    inflight: Inflight
    leases: Leases | None  # an order made active is leased to this replica: it polls it first

    async def quotes(self, country: str) -> list[Quote]:
        found = self.pricing.quotes(await self.catalog.offers(country=country))
        return [self.policy.prefer_refundable(qt, self.pricing.price) for qt in found]

    async def quote(self, country: str, service: str, rent_days: int | None = None) -> Quote | None:
        found = self.pricing.quotes(await self.catalog.offers(country=country, service=service))
        quote = next((qt for qt in found if qt.rent_days == rent_days), None)
        return self.policy.prefer_refundable(quote, self.pricing.price) if quote else None

    def _affordable(self, offer: Offer, charged: int, confirmed: int) -> bool:
        """Within what the user confirmed, and never a purchase that costs us more than they paid;
        an offer of unknown cost is never sold below its own price."""
        price = self.pricing.price(offer)
        if price is None or price > confirmed:
            return False
        cost = self.pricing.cost_in_bot_currency(offer)
        return cost <= charged if cost is not None else price <= charged

    async def _buy(
        self, order: Order, quote: Quote, confirmed: int, accept_nonrefundable: bool, over_limit: bool
    ) -> Result:
        sold_out: set[str] = set()  # upstreams whose cached offers proved wrong: refetched before re-quoting
        demo = self.catalog.get(quote.offers[0].provider).is_demo
        started = asyncio.get_running_loop().time()
        for offer in quote.offers:
            if not self._affordable(offer, order.price, confirmed) or self.catalog.get(offer.provider).is_demo != demo:
                continue  # never fail over between simulated and real numbers
            if offer is not quote.offers[0] and not self.policy.upstream_refunds(offer.provider):
                over_limit = await self._claim(order, offer)
            terms = self.policy.terms(offer, over_limit)
            if not terms.refundable and not accept_nonrefundable:
                continue  # never moves a refundable order onto terms the user did not see
            if asyncio.get_running_loop().time() - started > self.limits.routing_deadline:
                logger.warning("order %d: routing deadline passed; no further offer is tried", order.id)
                break
            current = await self.get(order.id)
            if current is None or current.status is not OrderStatus.PENDING:
                logger.warning("order %d: settled while routing (%s); not buying", order.id, current and current.status)
                return Result(Outcome.UNKNOWN, current)
            self.inflight.at(order.id, offer.provider)
            try:
                async with asyncio.timeout(self.limits.call_deadline):
                    purchase = await self.catalog.get(offer.provider).buy(offer)
            except (UnclearResult, TimeoutError) as exc:
                logger.warning("order %d: unclear buy result from %s: %r", order.id, offer.provider, exc)
                return await self._unclear(order, offer, terms, str(exc) or "deadline passed")
            except ProviderError as exc:  # a definite "no" (out of stock, refused): the next offer
                logger.info("order %d: %s could not sell, trying the next offer: %s", order.id, offer.provider, exc)
                sold_out.add(offer.provider)
                continue
            crash_point("bought")
            self.pricing.note_cost(offer, purchase.cost, offer.currency)
            return await self._activate(order, offer, purchase, terms, quote)
        failed = await self.close_with_refund(order.id, OrderStatus.FAILED, (OrderStatus.PENDING,), "no offer sold")
        await asyncio.gather(*(self.catalog.refresh(name) for name in sold_out))
        return Result(Outcome.OUT_OF_STOCK, failed, await self.quote(order.country, order.service, order.rent_days))

    async def _claim(self, order: Order, offer: Offer) -> bool:
        """Failing over onto an upstream with no cancel: is the user past the write-off limit now? If not,
        the order is moved there in the same transaction, so concurrent failovers count each other."""
        async with self.db.transaction() as conn:
            exposure = await self.policy.exposure(conn, order.user_id, exclude=order.id)
            over = exposure >= self.policy.write_off_limit
            if not over:
                await order_rows.update(conn, order.id, expect=(OrderStatus.PENDING,), provider=offer.provider)
        return over

    async def _unclear(self, order: Order, offer: Offer, terms: Terms, error: str) -> Result:
        async with self.db.transaction() as conn:
            moved = await order_rows.update(
                conn, order.id, expect=(OrderStatus.PENDING,), status=OrderStatus.UNKNOWN, cost=offer.cost,
                error=error[:300], **_bought_at(offer, terms),
            )  # fmt: skip
        return Result(Outcome.UNKNOWN, moved or await self.get(order.id))

    async def _activate(self, order: Order, offer: Offer, purchase: Purchase, terms: Terms, quote: Quote) -> Result:
        cost = purchase.cost if purchase.cost is not None else offer.cost
        expires = order.expires_at if purchase.expires_at is None else min(order.expires_at, purchase.expires_at)
        async with self.db.transaction() as conn:
            owner = await order_rows.owner_of(conn, offer.provider, purchase.upstream_id)
            active = None
            if owner is None:
                active = await order_rows.update(
                    conn, order.id, expect=(OrderStatus.PENDING,), status=OrderStatus.ACTIVE, cost=cost,
                    upstream_id=purchase.upstream_id, phone=purchase.phone, expires_at=expires,
                    **_bought_at(offer, terms), **(self.leases.fresh() if self.leases else {}),
                )  # fmt: skip
            if active is not None:
                await settlement.record(
                    conn,
                    order,
                    provider=offer.provider,
                    upstream_id=purchase.upstream_id,
                    cost=cost,
                    currency=offer.currency,
                )
        if owner is not None:  # a lookup gave this number to another order, which holds and sold it
            logger.warning(
                "order %d: %s number %s is held by order %d", order.id, offer.provider, purchase.phone, owner
            )
            failed = await self.close_with_refund(order.id, OrderStatus.FAILED, (OrderStatus.PENDING,), "number taken")
            return Result(Outcome.OUT_OF_STOCK, failed, await self.quote(order.country, order.service, order.rent_days))
        crash_point("activated")
        if active is None:  # settled while the upstream sold: cancel it there, or write it off
            await self.orphan(order, offer.provider, purchase.upstream_id, cost, offer.currency)
            return Result(Outcome.UNKNOWN, await self.get(order.id))
        return Result(Outcome.PLACED, active)

    async def orphan(self, order: Order, provider: str, upstream_id: str, cost: int | None, currency: str) -> None:
        """A number bought for an order already settled: cancelled upstream where it can be, else written off."""
        outcome: Upstream = settlement.written_off(WriteOff.ORPHANED)
        upstream = self.catalog.get(provider)
        if upstream.can_cancel:
            try:
                async with asyncio.timeout(self.limits.call_deadline):
                    await upstream.cancel(upstream_id)
                outcome = settlement.UPSTREAM_REFUNDED
            except (ProviderError, TimeoutError) as exc:
                logger.warning("order %d: orphan %s not cancelled at %s: %r", order.id, upstream_id, provider, exc)
        async with self.db.transaction() as conn:
            await settlement.record(
                conn, order, provider=provider, upstream_id=upstream_id, cost=cost, currency=currency, outcome=outcome
            )
        what = (order.id, upstream_id, provider, outcome[0])
        logger.error("order %d: number %s bought at %s after the order was settled: %s", *what)

    async def close_with_refund(
        self,
        order_id: int,
        status: OrderStatus,
        expect: Statuses,
        error: str | None = None,
        upstream: Upstream | None = None,
    ) -> Order | None:
        """Move the order to a refunded state, credit its price back and settle its purchase, in one transaction."""
        async with self.db.transaction() as conn:
            order = await settlement.refund(conn, order_id, status, expect, error=error, upstream=upstream)
        if order is not None:
            crash_point("refunded")
        return order

    async def get(self, order_id: int, user_id: int | None = None) -> Order | None:
        async with self.db.read() as conn:
            return await order_rows.get(conn, order_id, user_id)
