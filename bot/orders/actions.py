"""What a user does to an open order: cancel, finish, ask for another code, renew a rental."""

from __future__ import annotations

import asyncio
import logging

from bot.faults import crash_point
from bot.money.referrals import Referrals
from bot.orders import settlement
from bot.orders.outbound import replyable
from bot.orders.outcomes import Outcome, Result
from bot.orders.placing import OrderService
from bot.orders.renewals import Renewing
from bot.orders.settlement import Upstream
from providers.errors import CancelRefused, ProviderError
from storage import orders as order_rows
from storage import renewals
from storage.orders import REFUNDED, Order, OrderStatus
from storage.purchases import WriteOff

logger = logging.getLogger(__name__)


class OrderActions(Renewing):
    #: the price of a reply by SMS (``OUTBOUND_SMS_PRICE``); None: the card offers none
    reply_price: int | None = None

    def __init__(self, orders: OrderService, referrals: Referrals | None = None) -> None:
        self.orders = orders
        self.referrals = referrals  # the inviter's bonus, posted as an order completes
        self.db = orders.db
        self.catalog = orders.catalog

    async def cancel(self, order_id: int, user_id: int) -> Result:
        """Cancel before a code, by the order's terms. At an upstream that cancels, the refund is written
        only once it confirms; at one with no cancel the user is refunded and the number written off."""
        order = await self.orders.get(order_id, user_id)
        if order is None:
            return Result(Outcome.NOT_FOUND)
        if order.status is OrderStatus.CODE_RECEIVED:
            return Result(Outcome.HAS_CODE, order)
        if order.status is not OrderStatus.ACTIVE or order.upstream_id is None:
            return Result(Outcome.CLOSED, order)
        if not order.refundable:
            return Result(Outcome.NOT_REFUNDABLE, order)
        provider = self.catalog.get(order.provider)
        if provider.can_cancel:
            try:
                async with asyncio.timeout(self.orders.limits.call_deadline):
                    await provider.cancel(order.upstream_id)
            except CancelRefused as exc:
                return Result(Outcome.REFUSED, order, retry_after=exc.retry_after)
            except (ProviderError, TimeoutError) as exc:
                logger.warning("order %d: cancel at %s failed: %r", order.id, order.provider, exc)
                return Result(Outcome.UNAVAILABLE, order)
            crash_point("cancelled_upstream")
        cancelled = await self.close_without_code(order, OrderStatus.CANCELLED, None)
        if cancelled is None:  # the order moved on meanwhile: a code arrived, or a poll closed it first
            now = await self.orders.get(order.id)
            if now is not None and now.status is OrderStatus.CODE_RECEIVED:
                return Result(Outcome.HAS_CODE, now)
            return Result(Outcome.CANCELLED if now and now.status in REFUNDED else Outcome.CLOSED, now)
        return Result(Outcome.CANCELLED, cancelled)

    async def close_without_code(
        self,
        order: Order,
        status: OrderStatus,
        error: str | None,
        cancel: Upstream = settlement.UPSTREAM_REFUNDED,
        *,
        withdrawn: bool = False,
    ) -> Order | None:
        """End an active order that got no code, by its terms: a non-refundable one keeps its charge (the
        number is sold); a refundable one is refunded. Its cost: at an upstream with no cancel, written
        off; at one that cancels, what the cancel ended in (``cancel``: given back, unless it was refused
        or could not be sent). ``withdrawn``: the upstream cancelled the number itself, so it gives the
        cost back and the user gets the price back whatever the terms."""
        async with self.db.transaction() as conn:
            if not order.refundable and not withdrawn:
                return await settlement.keep(conn, order.id, status, (OrderStatus.ACTIVE,), error=error)
            upstream = cancel
            if withdrawn:
                upstream = settlement.UPSTREAM_REFUNDED
            elif not self.orders.policy.upstream_refunds(order.provider):
                upstream = settlement.written_off(WriteOff.NO_CANCEL)
            extra = {"refundable": 1} if withdrawn else {}  # refunded after all: the books must say so
            closed = await settlement.refund(
                conn, order.id, status, (OrderStatus.ACTIVE,), error=error, upstream=upstream, **extra
            )
        if closed is not None:
            crash_point("refunded")
        return closed

    async def finish(self, order_id: int, user_id: int | None = None) -> Order | None:
        """Close an order that got its code (no refund); not while one of its renewals is unsettled."""
        async with self.db.transaction() as conn:
            order = await order_rows.get(conn, order_id, user_id)
            if order is None or order.status is not OrderStatus.CODE_RECEIVED:
                return order
            if self.orders.inflight.renewing_order(order_id) or await renewals.open_of_order(conn, order_id):
                return order
            done = await order_rows.update(
                conn, order_id, expect=(OrderStatus.CODE_RECEIVED,), status=OrderStatus.COMPLETED
            )
            if done is not None and self.referrals is not None:  # final now: never refunded any more
                await self.referrals.credit(conn, done)
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
            "cancel": order.refundable,
            "can_reply": replyable(order, provider, self.reply_price),
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
