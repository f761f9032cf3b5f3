"""Following open orders: record new SMS, expire and refund, resolve orders left unclear.

Everything is read from the database on each call, so a restart resumes every open order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.faults import crash_point
from bot.order_actions import OrderActions
from bot.orders import OrderService
from providers.base import Offer, Status, UpstreamState
from providers.errors import ProviderError
from providers.otp import extract_code
from storage import orders as q
from storage.db import Database
from storage.orders import Order, OrderStatus

logger = logging.getLogger(__name__)

#: an order left pending this long was interrupted by a crash between charge and upstream answer
PENDING_GRACE = timedelta(minutes=2)
#: how long an unclear purchase may wait for an upstream that cannot be asked right now
LOOKUP_PATIENCE = timedelta(minutes=15)

Notify = Callable[[Order], Awaitable[None]]


class Tracker:
    def __init__(
        self, db: Database, orders: OrderService, concurrency: int, pending_grace: timedelta = PENDING_GRACE
    ) -> None:
        self.db = db
        self.pending_grace = pending_grace
        self.orders = orders
        self.actions = OrderActions(orders)
        self.concurrency = concurrency
        self._failing: dict[int, str] = {}  # order id -> last error logged, to log once

    async def _open(self, *statuses: OrderStatus) -> list[Order]:
        async with self.db.read() as conn:
            return await q.open_orders(conn, statuses)

    async def undelivered(self) -> list[Order]:
        """Orders with an SMS stored but not yet pushed to the chat (Telegram failed, or a crash)."""
        async with self.db.read() as conn:
            return await q.with_undelivered_sms(conn)

    async def poll_all(self) -> list[Order]:
        """Check every order waiting for SMS, a bounded number at a time per provider.

        Returns the orders that changed (new SMS or closed upstream), for the caller to notify.
        """
        waiting = await self._open(OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED)
        limits: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(self.concurrency))

        async def one(order: Order) -> Order | None:
            async with limits[order.provider]:
                return await self.poll(order)

        results = await asyncio.gather(*(one(o) for o in waiting))
        return [o for o in results if o is not None]

    async def poll(self, order: Order) -> Order | None:
        """One upstream check; the order if it changed, None otherwise (errors included)."""
        assert order.upstream_id is not None
        try:
            status = await self.orders.catalog.get(order.provider).check(order.upstream_id)
        except Exception as exc:  # a provider error, or anything unexpected: never stops the cycle
            if self._failing.get(order.id) != type(exc).__name__:
                self._failing[order.id] = type(exc).__name__
                logger.warning("order %d: polling %s failed, kept active: %s", order.id, order.provider, exc)
            return None
        if self._failing.pop(order.id, None):
            logger.info("order %d: polling %s works again", order.id, order.provider)
        return await self.record(order, status)

    async def record(self, order: Order, status: Status) -> Order | None:
        """Store SMS not seen before; the first one moves the order to code_received."""
        added = False
        if not status.sms:  # the common case: nothing new, no transaction
            if status.state in (UpstreamState.CANCELLED, UpstreamState.EXPIRED):
                closed = OrderStatus.CANCELLED if status.state is UpstreamState.CANCELLED else OrderStatus.EXPIRED
                return await self.orders.close_with_refund(
                    order.id, closed, (OrderStatus.ACTIVE,), error=f"upstream {status.state}"
                )
            return None
        async with self.db.transaction() as conn:
            current = await q.get(conn, order.id)
            if current is None or current.status not in (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED):
                return None  # refunded (cancel, expiry) since the upstream was asked: the code is not ours to give
            for sms in status.sms:
                received = sms.received_at.isoformat() if sms.received_at else None
                fp = q.fingerprint(sms.text, received)
                code = sms.code or extract_code(sms.text)
                added |= await q.add_sms(conn, order.id, sms.text, code, sms.sender, fp)
            if added and current.status is OrderStatus.ACTIVE:
                await q.update(conn, order.id, expect=(OrderStatus.ACTIVE,), status=OrderStatus.CODE_RECEIVED)
        if added:
            crash_point("sms_stored")
        return await self.orders.get(order.id) if added else None

    async def expire_due(self, now: datetime | None = None) -> list[Order]:
        """Refund orders whose time ran out without a code; complete those that got one."""
        now = now or datetime.now(UTC)
        changed: list[Order] = []
        for order in await self._open(OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED):
            if order.expires_at > now:
                continue
            try:
                result = await self._expire(order, now)
            except Exception:  # one bad order must not stop the others' refunds
                logger.exception("order %d: expiry failed; retried next run", order.id)
                continue
            if result is not None:
                changed.append(result)
        return changed

    async def _expire(self, order: Order, now: datetime) -> Order | None:
        fresh = await self.orders.get(order.id)
        if fresh is None or fresh.expires_at > now or not fresh.is_open:  # renewed or closed meanwhile
            return None
        order = fresh
        if order.status is OrderStatus.CODE_RECEIVED:
            return await self.actions.finish(order.id)
        late = await self.poll(order)  # a code may have arrived at the last moment
        if late is not None and late.status is OrderStatus.CODE_RECEIVED:
            return late
        await self._cancel_upstream(order)
        expired = await self.orders.close_with_refund(
            order.id, OrderStatus.EXPIRED, (OrderStatus.ACTIVE,), error="no code in time"
        )
        return expired or late or order

    async def _cancel_upstream(self, order: Order) -> None:
        if order.upstream_id is None:
            return
        try:
            await self.orders.catalog.get(order.provider).cancel(order.upstream_id)
        except ProviderError as exc:
            logger.info("order %d: cancel at expiry failed at %s: %s", order.id, order.provider, exc)

    async def resolve_unclear(self, now: datetime | None = None) -> list[Order]:
        """Orders left unknown, or pending past a crash: looked up where the upstream allows, else
        refunded (status failed, for the admins to check the upstream account). Returns both kinds."""
        now = now or datetime.now(UTC)
        refunded: list[Order] = []
        for order in await self._open(OrderStatus.PENDING, OrderStatus.UNKNOWN):
            age = now - q.parse_iso(order.created_at)
            if order.status is OrderStatus.PENDING and age < self.pending_grace:
                continue
            try:
                found = await self._lookup(order)
            except Exception:
                logger.exception("order %d: lookup failed unexpectedly", order.id)
                found = False
            if found is False and age < LOOKUP_PATIENCE:
                continue  # the upstream could not answer now; ask again next time
            if isinstance(found, Order):
                refunded.append(found)
                continue
            failed = await self.orders.close_with_refund(
                order.id, OrderStatus.FAILED, (order.status,), error=f"unresolved {order.status}"
            )
            if failed is not None:
                logger.warning("order %d at %s refunded unresolved (%s)", order.id, order.provider, order.status)
                refunded.append(failed)
        async with self.db.read() as conn:
            stale = await q.stale_renewals(conn, q.iso(now - self.pending_grace))
        for reference in stale:
            await self.actions.refund_renewal(reference)
        return refunded

    async def _lookup(self, order: Order) -> Order | bool | None:
        """The order made active from the upstream's record; None if it has none; False if it could not say."""
        provider = self.orders.catalog.providers.get(order.provider)
        if provider is None or not provider.can_lookup:
            return None
        offer = Offer(order.provider, order.service, order.country, None, "", None, order.product_id, order.rent_days)
        try:
            purchase = await provider.lookup(offer, q.parse_iso(order.created_at) - timedelta(minutes=1))
        except ProviderError as exc:
            logger.info("order %d: lookup at %s failed: %s", order.id, order.provider, exc)
            return False
        if purchase is None:
            return None
        async with self.db.transaction() as conn:
            owner = await q.owner_of(conn, order.provider, purchase.upstream_id)
            if owner is not None and owner != order.id:
                logger.warning("order %d: lookup found %s, which order %d holds", order.id, order.provider, owner)
                return None
            active = await q.update(
                conn,
                order.id,
                expect=(order.status,),
                status=OrderStatus.ACTIVE,
                upstream_id=purchase.upstream_id,
                phone=purchase.phone,
                expires_at=purchase.expires_at or order.expires_at,
            )
        logger.info("order %d: found at %s after an unclear purchase", order.id, order.provider)
        return active
