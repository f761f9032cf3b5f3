"""Asking the upstreams about open orders: new SMS recorded, the first one selling the number.

Everything is read from the database on each call, so a restart resumes every open order. The base of
:class:`bot.orders.tracking.Tracker`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import timedelta

from bot.faults import crash_point
from bot.orders import settlement
from bot.orders.actions import OrderActions
from bot.orders.placing import OrderService
from providers.base import Status, UpstreamState
from providers.otp import extract_code, upstream_code
from storage import orders as order_rows
from storage import purchases
from storage.orders import Order, OrderStatus

logger = logging.getLogger(__name__)

#: an order left pending this long was interrupted by a crash between charge and upstream answer
PENDING_GRACE = timedelta(minutes=2)


class Polling:
    def __init__(
        self, orders: OrderService, actions: OrderActions, concurrency: int, pending_grace: timedelta = PENDING_GRACE
    ) -> None:
        self.orders = orders
        self.actions = actions
        self.db = orders.db
        self.concurrency = concurrency
        self.pending_grace = pending_grace
        self._failing: dict[int, str] = {}  # order id -> last error logged, to log once
        self._asked: dict[int, float] = {}  # order id -> loop time the upstream was last asked about it

    async def _open(self, *statuses: OrderStatus) -> list[Order]:
        async with self.db.read() as conn:
            return await order_rows.open_orders(conn, statuses)

    async def undelivered(self) -> list[Order]:
        """Orders with an SMS stored but not yet pushed to the chat (Telegram failed, or a crash)."""
        async with self.db.read() as conn:
            return await order_rows.with_undelivered_sms(conn)

    async def poll_all(self) -> list[Order]:
        """Check every order waiting for SMS, a bounded number at a time per provider.

        Returns the orders that changed (new SMS or closed upstream), for the caller to notify.
        """
        waiting = await self._open(OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED)
        open_ids = {o.id for o in waiting}
        self._asked = {oid: at for oid, at in self._asked.items() if oid in open_ids}  # closed ones forgotten
        limits: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(self.concurrency))

        async def one(order: Order) -> Order | None:
            async with limits[order.provider]:
                return await self.poll(order)

        results = await asyncio.gather(*(one(o) for o in waiting))
        return [o for o in results if o is not None]

    async def fetch(self, order: Order) -> Status | None:
        """The upstream's view of the order; None (logged once per order) when it could not be asked."""
        assert order.upstream_id is not None
        try:
            return await self.orders.catalog.get(order.provider).check(order.upstream_id)
        except Exception as exc:  # a provider error, or anything unexpected: never stops the cycle
            if self._failing.get(order.id) != type(exc).__name__:
                self._failing[order.id] = type(exc).__name__
                logger.warning("order %d: polling %s failed, kept active: %s", order.id, order.provider, exc)
            return None

    async def refresh(self, order: Order, min_interval: float) -> Order | None:
        """A user's Refresh: like :meth:`poll`, but the upstream is asked about an order at most once per
        ``min_interval`` seconds (the poll job's checks count); in between the stored state stands."""
        asked = self._asked.get(order.id)
        if asked is not None and asyncio.get_running_loop().time() - asked < min_interval:
            return None
        return await self.poll(order)

    async def poll(self, order: Order) -> Order | None:
        """One upstream check; the order if it changed, None otherwise (errors included)."""
        self._asked[order.id] = asyncio.get_running_loop().time()  # before asking: taps meanwhile show the stored state
        status = await self.fetch(order)
        if status is None:
            return None
        if self._failing.pop(order.id, None):
            logger.info("order %d: polling %s works again", order.id, order.provider)
        return await self.record(order, status)

    async def record(self, order: Order, status: Status) -> Order | None:
        """Store SMS not seen before; the first one moves the order to code_received (the number is sold)."""
        added = False
        if not status.sms:  # the common case: nothing new, no transaction
            if status.state in (UpstreamState.CANCELLED, UpstreamState.EXPIRED):
                if status.state is UpstreamState.CANCELLED:  # the upstream withdrew the number: it refunds
                    return await self.actions.close_without_code(
                        order, OrderStatus.CANCELLED, "upstream cancelled", withdrawn=True
                    )
                return await self.actions.close_without_code(order, OrderStatus.EXPIRED, "upstream expired")
            return None
        async with self.db.transaction() as conn:
            current = await order_rows.get(conn, order.id)
            if current is None or current.status not in (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED):
                return None  # refunded (cancel, expiry) since the upstream was asked: the code is not ours to give
            for sms in status.sms:
                received = sms.received_at.isoformat() if sms.received_at else None
                fp = order_rows.fingerprint(sms.text, received)
                code = upstream_code(sms.code) or extract_code(sms.text)
                added |= await order_rows.add_sms(conn, order.id, sms.text, code, sms.sender, fp)
            if added and current.status is OrderStatus.ACTIVE:
                await order_rows.update(conn, order.id, expect=(OrderStatus.ACTIVE,), status=OrderStatus.CODE_RECEIVED)
                await purchases.settle_order(conn, order.id, *settlement.SOLD)
        if added:
            crash_point("sms_stored")
        return await self.orders.get(order.id) if added else None
