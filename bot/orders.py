"""Placing orders: the charge and the order are one transaction; the upstream is asked after.

Routing: the offers of a quote are tried cheapest first; out of stock, unavailable and the like
move on to the next offer as long as its price stays within what the user confirmed. A paid
request whose outcome is unclear is never re-sent: the order becomes ``unknown`` and is resolved
by :class:`bot.tracking.Tracker`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from bot.faults import crash_point
from bot.outcomes import Outcome, Result
from bot.pricing import Pricing, Quote
from providers.base import Offer
from providers.catalog import Catalog
from providers.errors import ProviderError, UnclearResult
from storage import ledger
from storage import orders as q
from storage.db import Database
from storage.orders import Order, OrderStatus

logger = logging.getLogger(__name__)


class OrderService:
    def __init__(self, db: Database, catalog: Catalog, pricing: Pricing, timeout: timedelta) -> None:
        self.db = db
        self.catalog = catalog
        self.pricing = pricing
        self.timeout = timeout

    async def quotes(self, country: str) -> list[Quote]:
        return self.pricing.quotes(await self.catalog.offers(country=country))

    async def quote(self, country: str, service: str, rent_days: int | None = None) -> Quote | None:
        found = self.pricing.quotes(await self.catalog.offers(country=country, service=service))
        return next((qt for qt in found if qt.rent_days == rent_days), None)

    async def place(
        self,
        *,
        user_id: int,
        chat_id: int,
        request_key: str,
        country: str,
        service: str,
        confirmed: int,
        rent_days: int | None = None,
        card_message_id: int | None = None,
    ) -> Result:
        """Charge and buy, once per ``request_key`` however many times Confirm is tapped.

        ``card_message_id`` is the confirmation message, which becomes the order card.
        """
        async with self.db.read() as conn:
            existing = await q.by_request_key(conn, request_key)
        if existing:
            return Result(Outcome.DUPLICATE, existing)
        quote = await self.quote(country, service, rent_days)
        if quote is None:
            return Result(Outcome.OUT_OF_STOCK)
        if quote.price > confirmed:
            return Result(Outcome.PRICE_CHANGED, quote=quote)
        lifetime = timedelta(days=rent_days) if rent_days else self.timeout
        try:
            async with self.db.transaction() as conn:
                existing = await q.by_request_key(conn, request_key)
                if existing:
                    return Result(Outcome.DUPLICATE, existing)
                order = await q.create(
                    conn,
                    user_id=user_id,
                    request_key=request_key,
                    provider=quote.offers[0].provider,
                    country=country,
                    service=service,
                    price=quote.price,
                    chat_id=chat_id,
                    expires_at=datetime.now(UTC) + lifetime,
                    rent_days=rent_days,
                    card_message_id=card_message_id,
                )
                await ledger.post(
                    conn,
                    user_id=user_id,
                    amount=-quote.price,
                    kind="purchase",
                    reference=f"order:{order.id}:charge",
                    order_id=order.id,
                )
        except ledger.InsufficientFunds:
            return Result(Outcome.INSUFFICIENT, quote=quote)
        crash_point("reserved")
        return await self._buy(order, quote, confirmed)

    def _affordable(self, offer: Offer, charged: int, confirmed: int) -> bool:
        """Within what the user confirmed, and never a purchase that costs us more than they paid;
        an offer of unknown cost is never sold below its own price."""
        price = self.pricing.price(offer)
        if price is None or price > confirmed:
            return False
        cost = self.pricing.cost_in_bot_currency(offer)
        return cost <= charged if cost is not None else price <= charged

    async def _buy(self, order: Order, quote: Quote, confirmed: int) -> Result:
        sold_out: set[str] = set()  # upstreams whose cached offers proved wrong: refetched before re-quoting
        demo = self.catalog.get(quote.offers[0].provider).is_demo
        for offer in quote.offers:
            if not self._affordable(offer, order.price, confirmed):
                continue
            if self.catalog.get(offer.provider).is_demo != demo:
                continue  # never fail over between simulated and real numbers
            try:
                purchase = await self.catalog.get(offer.provider).buy(offer)
            except UnclearResult as exc:
                logger.warning("order %d: unclear buy result from %s: %s", order.id, offer.provider, exc)
                async with self.db.transaction() as conn:
                    moved = await q.update(
                        conn,
                        order.id,
                        expect=(OrderStatus.PENDING,),
                        status=OrderStatus.UNKNOWN,
                        provider=offer.provider,
                        product_id=offer.product_id,
                        error=str(exc),
                    )
                return Result(Outcome.UNKNOWN, moved or order)
            except ProviderError as exc:  # a definite "no" (out of stock, down, refused): the next offer
                logger.info("order %d: %s could not sell, trying the next offer: %s", order.id, offer.provider, exc)
                sold_out.add(offer.provider)
                continue
            crash_point("bought")
            self.pricing.note_cost(offer, purchase.cost, offer.currency)
            expires = order.expires_at if purchase.expires_at is None else min(order.expires_at, purchase.expires_at)
            async with self.db.transaction() as conn:
                active = await q.update(
                    conn,
                    order.id,
                    expect=(OrderStatus.PENDING,),
                    status=OrderStatus.ACTIVE,
                    provider=offer.provider,
                    product_id=offer.product_id,
                    upstream_id=purchase.upstream_id,
                    phone=purchase.phone,
                    cost=purchase.cost if purchase.cost is not None else offer.cost,
                    cost_currency=offer.currency,
                    expires_at=expires,
                )
            crash_point("activated")
            if active is None:  # resolved as unclear meanwhile (refunded); the admins were told
                logger.error("order %d: bought %s after it was resolved", order.id, purchase.upstream_id)
                return Result(Outcome.UNKNOWN, await self.get(order.id))
            return Result(Outcome.PLACED, active)
        failed = await self.close_with_refund(order.id, OrderStatus.FAILED, (OrderStatus.PENDING,), "no offer sold")
        await asyncio.gather(*(self.catalog.refresh(name) for name in sold_out))
        return Result(Outcome.OUT_OF_STOCK, failed, await self.quote(order.country, order.service, order.rent_days))

    async def close_with_refund(
        self, order_id: int, status: OrderStatus, expect: tuple[OrderStatus, ...], error: str | None = None
    ) -> Order | None:
        """Move the order to a refunded state and credit its price back, in one transaction."""
        async with self.db.transaction() as conn:
            order = await q.update(conn, order_id, expect=expect, status=status, error=error)
            if order is None:
                return None
            await ledger.post(
                conn,
                user_id=order.user_id,
                amount=order.price,
                kind="refund",
                reference=f"order:{order_id}:refund",
                order_id=order_id,
            )
        crash_point("refunded")
        return order

    async def get(self, order_id: int, user_id: int | None = None) -> Order | None:
        async with self.db.read() as conn:
            return await q.get(conn, order_id, user_id)

    async def recent(self, user_id: int, limit: int = 10) -> list[Order]:
        async with self.db.read() as conn:
            return await q.for_user(conn, user_id, limit)

    async def sms(self, order_id: int) -> list[q.OrderSms]:
        async with self.db.read() as conn:
            return await q.sms_of(conn, order_id)

    def is_demo(self, order: Order) -> bool:
        provider = self.catalog.providers.get(order.provider)
        return provider is not None and provider.is_demo
