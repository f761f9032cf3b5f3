"""Placing and cancelling orders: the money moves in the same transaction as the order's state."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.pricing import Pricing, Quote
from providers.base import Offer
from providers.catalog import Catalog
from providers.errors import FAILOVER_ERRORS, CancelRefused, ProviderError, UnclearResult
from storage import ledger
from storage import orders as q
from storage.db import Database
from storage.orders import Order, OrderStatus

logger = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    PLACED = "placed"
    DUPLICATE = "duplicate"  # this Confirm was already used; no second charge
    INSUFFICIENT = "insufficient"
    PRICE_CHANGED = "price_changed"
    OUT_OF_STOCK = "out_of_stock"
    UNKNOWN = "unknown"  # the upstream's answer was unclear; resolved later
    CANCELLED = "cancelled"
    HAS_CODE = "has_code"
    REFUSED = "refused"
    UNAVAILABLE = "unavailable"
    NOT_FOUND = "not_found"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    order: Order | None = None
    quote: Quote | None = None
    retry_after: float | None = None


class OrderService:
    def __init__(self, db: Database, catalog: Catalog, pricing: Pricing, timeout: timedelta) -> None:
        self.db = db
        self.catalog = catalog
        self.pricing = pricing
        self.timeout = timeout

    async def quotes(self, country: str) -> list[Quote]:
        return self.pricing.quotes(await self.catalog.offers(country=country))

    async def quote(self, country: str, service: str) -> Quote | None:
        found = self.pricing.quotes(await self.catalog.offers(country=country, service=service))
        return found[0] if found else None

    async def place(
        self, *, user_id: int, chat_id: int, request_key: str, country: str, service: str, confirmed: int
    ) -> Result:
        """Charge and buy, once per ``request_key`` however many times Confirm is tapped."""
        async with self.db.read() as conn:
            existing = await q.by_request_key(conn, request_key)
        if existing:
            return Result(Outcome.DUPLICATE, existing)
        quote = await self.quote(country, service)
        if quote is None:
            return Result(Outcome.OUT_OF_STOCK)
        if quote.price > confirmed:
            return Result(Outcome.PRICE_CHANGED, quote=quote)
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
                    expires_at=datetime.now(UTC) + self.timeout,
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
        return await self._buy(order, quote, confirmed)

    def _affordable(self, offer: Offer, charged: int, confirmed: int) -> bool:
        price = self.pricing.price(offer)
        cost = self.pricing.convert(offer.cost, offer.currency) if offer.cost is not None else None
        return price is not None and price <= confirmed and (cost is None or cost <= charged)

    async def _buy(self, order: Order, quote: Quote, confirmed: int) -> Result:
        """Try the offers cheapest first; a paid request with an unclear result is never re-sent."""
        for offer in quote.offers:
            if not self._affordable(offer, order.price, confirmed):
                continue
            provider = self.catalog.get(offer.provider)
            try:
                purchase = await provider.buy(offer)
            except UnclearResult as exc:
                logger.warning("order %d: unclear buy result from %s: %s", order.id, offer.provider, exc)
                async with self.db.transaction() as conn:
                    moved = await q.update(
                        conn,
                        order.id,
                        expect=(OrderStatus.PENDING,),
                        status=OrderStatus.UNKNOWN,
                        provider=offer.provider,
                        error=str(exc),
                    )
                return Result(Outcome.UNKNOWN, moved or order)
            except FAILOVER_ERRORS as exc:
                logger.info("order %d: %s could not sell: %s", order.id, offer.provider, exc)
                self.catalog.invalidate(offer.provider)
                continue
            expires = datetime.now(UTC) + self.timeout
            if purchase.expires_at is not None:
                expires = min(expires, purchase.expires_at)
            async with self.db.transaction() as conn:
                active = await q.update(
                    conn,
                    order.id,
                    expect=(OrderStatus.PENDING,),
                    status=OrderStatus.ACTIVE,
                    provider=offer.provider,
                    upstream_id=purchase.upstream_id,
                    phone=purchase.phone,
                    cost=purchase.cost if purchase.cost is not None else offer.cost,
                    cost_currency=offer.currency,
                    expires_at=expires,
                )
            if active is None:  # resolved as unclear meanwhile (refunded); the admins were told
                logger.error("order %d: bought %s after it was resolved", order.id, purchase.upstream_id)
                return Result(Outcome.UNKNOWN, await self.get(order.id))
            return Result(Outcome.PLACED, active)
        failed = await self.close_with_refund(order.id, OrderStatus.FAILED, (OrderStatus.PENDING,))
        return Result(Outcome.OUT_OF_STOCK, failed, quote)

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
        return order

    async def get(self, order_id: int, user_id: int | None = None) -> Order | None:
        async with self.db.read() as conn:
            return await q.get(conn, order_id, user_id)

    async def cancel(self, order_id: int, user_id: int) -> Result:
        """Cancel before a code: the refund is written only once the upstream confirms."""
        order = await self.get(order_id, user_id)
        if order is None:
            return Result(Outcome.NOT_FOUND)
        if order.status is OrderStatus.CODE_RECEIVED:
            return Result(Outcome.HAS_CODE, order)
        if order.status is not OrderStatus.ACTIVE or order.upstream_id is None:
            return Result(Outcome.CLOSED, order)
        try:
            await self.catalog.get(order.provider).cancel(order.upstream_id)
        except CancelRefused as exc:
            return Result(Outcome.REFUSED, order, retry_after=exc.retry_after)
        except ProviderError as exc:
            logger.warning("order %d: cancel at %s failed: %s", order.id, order.provider, exc)
            return Result(Outcome.UNAVAILABLE, order)
        cancelled = await self.close_with_refund(order.id, OrderStatus.CANCELLED, (OrderStatus.ACTIVE,))
        if cancelled is None:  # a code arrived meanwhile: it is delivered, the order is kept
            return Result(Outcome.HAS_CODE, await self.get(order.id))
        return Result(Outcome.CANCELLED, cancelled)

    async def finish(self, order_id: int, user_id: int | None = None) -> Order | None:
        """Close an order that got its code (no refund)."""
        async with self.db.transaction() as conn:
            order = await q.get(conn, order_id, user_id)
            if order is None or order.status is not OrderStatus.CODE_RECEIVED:
                return order
            done = await q.update(conn, order_id, expect=(OrderStatus.CODE_RECEIVED,), status=OrderStatus.COMPLETED)
        if done and done.upstream_id:
            try:
                await self.catalog.get(done.provider).finish(done.upstream_id)
            except ProviderError as exc:
                logger.info("order %d: finish at %s failed: %s", order_id, done.provider, exc)
        return done

    async def recent(self, user_id: int, limit: int = 10) -> list[Order]:
        async with self.db.read() as conn:
            return await q.for_user(conn, user_id, limit)

    async def sms(self, order_id: int) -> list[q.OrderSms]:
        async with self.db.read() as conn:
            return await q.sms_of(conn, order_id)

    async def set_card(self, order_id: int, message_id: int) -> None:
        """Remember the message that shows the order, so jobs can keep it current."""
        async with self.db.transaction() as conn:
            await q.update(conn, order_id, expect=tuple(OrderStatus), card_message_id=message_id)

    def is_demo(self, order: Order) -> bool:
        provider = self.catalog.providers.get(order.provider)
        return provider is not None and provider.is_demo
