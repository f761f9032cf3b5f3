"""What a user does to an open order: cancel, finish, ask for another code, renew a rental."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from bot.faults import crash_point
from bot.orders import OrderService
from bot.outcomes import Outcome, Result
from providers.errors import CancelRefused, ProviderError
from storage import ledger
from storage import orders as q
from storage.orders import REFUNDED, Order, OrderStatus

logger = logging.getLogger(__name__)


class OrderActions:
    def __init__(self, orders: OrderService) -> None:
        self.orders = orders
        self.db = orders.db
        self.catalog = orders.catalog

    async def cancel(self, order_id: int, user_id: int) -> Result:
        """Cancel before a code: the refund is written only once the upstream confirms."""
        order = await self.orders.get(order_id, user_id)
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
        crash_point("cancelled_upstream")
        cancelled = await self.orders.close_with_refund(order.id, OrderStatus.CANCELLED, (OrderStatus.ACTIVE,))
        if cancelled is None:  # the order moved on meanwhile: a code arrived, or a poll closed it first
            now = await self.orders.get(order.id)
            if now is not None and now.status is OrderStatus.CODE_RECEIVED:
                return Result(Outcome.HAS_CODE, now)
            return Result(Outcome.CANCELLED if now and now.status in REFUNDED else Outcome.CLOSED, now)
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

    def card_flags(self, order: Order) -> dict[str, bool]:
        """Which optional buttons the order card offers."""
        provider = self.catalog.providers.get(order.provider)
        return {
            "another_code": self.can_another_code(order),
            "renew": bool(order.rent_days) and provider is not None and provider.can_renew,
        }

    def can_another_code(self, order: Order) -> bool:
        provider = self.catalog.providers.get(order.provider)
        return order.status is OrderStatus.CODE_RECEIVED and provider is not None and provider.supports_another_code

    async def another_code(self, order_id: int, user_id: int) -> Result:
        """Ask the upstream for one more SMS on the same number (no new charge)."""
        order = await self.orders.get(order_id, user_id)
        if order is None:
            return Result(Outcome.NOT_FOUND)
        if not self.can_another_code(order) or order.upstream_id is None:
            return Result(Outcome.UNSUPPORTED, order)
        try:
            await self.catalog.get(order.provider).another_code(order.upstream_id)
        except ProviderError as exc:
            logger.info("order %d: another code at %s failed: %s", order.id, order.provider, exc)
            return Result(Outcome.UNAVAILABLE, order)
        return Result(Outcome.REQUESTED, order)

    async def renew(self, order_id: int, user_id: int, days: int, nonce: str, shown_price: int) -> Result:
        """Extend a rental: charge, ask the upstream, refund if it says no. Once per ``nonce``.

        The charge is the current price, never more than ``shown_price`` (what the user confirmed).
        """
        order = await self.orders.get(order_id, user_id)
        if order is None:
            return Result(Outcome.NOT_FOUND)
        provider = self.catalog.providers.get(order.provider)
        if not order.rent_days or order.upstream_id is None or provider is None or not provider.can_renew:
            return Result(Outcome.UNSUPPORTED, order)
        if order.status not in (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED) or order.expires_at <= datetime.now(UTC):
            return Result(Outcome.CLOSED, order)
        price = await self.renewal_price(order, days)
        if price is None:
            return Result(Outcome.OUT_OF_STOCK, order)
        if price > shown_price:
            return Result(Outcome.PRICE_CHANGED, order)
        reference = f"order:{order.id}:renew:{nonce}"
        try:
            async with self.db.transaction() as conn:
                if not await q.add_renewal(conn, order.id, reference, days, price):
                    return Result(Outcome.DUPLICATE, order)
                await ledger.post(
                    conn, user_id=user_id, amount=-price, kind="renewal", reference=reference, order_id=order.id
                )
        except ledger.InsufficientFunds:
            return Result(Outcome.INSUFFICIENT, order)
        try:
            new_expiry = await provider.renew(order.upstream_id, days)
        except ProviderError as exc:
            logger.warning("order %d: renew at %s failed, refunding: %s", order.id, order.provider, exc)
            await self.refund_renewal(reference)
            return Result(Outcome.UNAVAILABLE, order)
        async with self.db.transaction() as conn:
            renewed = await q.update(
                conn,
                order.id,
                expect=(OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED),
                expires_at=new_expiry or order.expires_at + timedelta(days=days),
                rent_days=order.rent_days + days,
            )
            if renewed is not None:
                await q.settle_renewal(conn, reference, "done")
        if renewed is None:  # the order closed while the upstream renewed: the renewal is given back
            await self.refund_renewal(reference)
            return Result(Outcome.CLOSED, await self.orders.get(order.id))
        return Result(Outcome.RENEWED, renewed)

    async def renewal_price(self, order: Order, days: int) -> int | None:
        """What renewing this rental for ``days`` costs now, at the upstream that holds the number."""
        quote = await self.orders.quote(order.country, order.service, days)
        offer = next((o for o in quote.offers if o.provider == order.provider), None) if quote else None
        return self.orders.pricing.price(offer) if offer else None

    async def refund_renewal(self, reference: str) -> bool:
        """Give a pending renewal's charge back (the upstream said no, or a crash left it pending)."""
        async with self.db.transaction() as conn:
            renewal = await q.settle_renewal(conn, reference, "refunded")
            if renewal is None:
                return False
            order_id, price = renewal
            order = await q.get(conn, order_id)
            assert order is not None
            await ledger.post(
                conn,
                user_id=order.user_id,
                amount=price,
                kind="refund",
                reference=f"{reference}:refund",
                order_id=order_id,
            )
        return True
