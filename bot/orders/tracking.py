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
from bot.orders import settlement
from bot.orders.actions import OrderActions
from bot.orders.placing import OrderService
from bot.orders.settlement import Upstream
from providers.base import Offer, Status, UpstreamState
from providers.errors import CancelRefused, ProviderError
from providers.otp import extract_code, upstream_code
from storage import orders as q
from storage import purchases, renewals
from storage.db import Database
from storage.orders import Order, OrderStatus
from storage.purchases import WriteOff

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
        self._asked: dict[int, float] = {}  # order id -> loop time the upstream was last asked about it

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
            current = await q.get(conn, order.id)
            if current is None or current.status not in (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED):
                return None  # refunded (cancel, expiry) since the upstream was asked: the code is not ours to give
            for sms in status.sms:
                received = sms.received_at.isoformat() if sms.received_at else None
                fp = q.fingerprint(sms.text, received)
                code = upstream_code(sms.code) or extract_code(sms.text)
                added |= await q.add_sms(conn, order.id, sms.text, code, sms.sender, fp)
            if added and current.status is OrderStatus.ACTIVE:
                await q.update(conn, order.id, expect=(OrderStatus.ACTIVE,), status=OrderStatus.CODE_RECEIVED)
                await purchases.settle_order(conn, order.id, *settlement.SOLD)
        if added:
            crash_point("sms_stored")
        return await self.orders.get(order.id) if added else None

    async def expire_due(self, now: datetime | None = None) -> list[Order]:
        """Close orders whose time ran out: completed with a code, else by their refund terms."""
        now = now or datetime.now(UTC)
        changed: list[Order] = []
        async with self.db.read() as conn:
            due = await q.due_orders(conn, q.iso(now))
        for order in due:
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
        if await self._renewal_open(order, now):
            return None  # a renewal may extend it: settled first, then this order is looked at again
        if order.status is OrderStatus.CODE_RECEIVED:
            return await self.actions.finish(order.id)
        overdue = now - order.expires_at
        status = await self.fetch(order)  # a code may have arrived at the last moment
        if status is not None:
            late = await self.record(order, status)
            if late is not None:
                return late  # a code, or the upstream closed it
        elif overdue < LOOKUP_PATIENCE:
            return None  # cannot see the order now; a code may be there: asked again next run
        if not order.refundable or not self.orders.policy.upstream_refunds(order.provider):
            return await self.actions.close_without_code(order, OrderStatus.EXPIRED, "no code in time")
        cancel = await self._cancel_upstream(order)
        if cancel is None and overdue < LOOKUP_PATIENCE:
            return None  # the upstream cannot be reached: try again next run
        if cancel == settlement.written_off(WriteOff.CANCEL_REFUSED):
            again = await self.fetch(order)  # refused: maybe because a code came in while a poll failed
            late = await self.record(order, again) if again is not None else None
            if late is not None:
                return late
            if again is None and overdue < LOOKUP_PATIENCE:
                return None
        closed = await self.actions.close_without_code(
            order, OrderStatus.EXPIRED, "no code in time", cancel or settlement.written_off(WriteOff.CANCEL_FAILED)
        )
        return closed or await self.orders.get(order.id)

    async def _renewal_open(self, order: Order, now: datetime) -> bool:
        """A renewal of the order is in flight, or pending / unknown and could not be settled now."""
        if self.orders.inflight.renewing_order(order.id):
            return True
        async with self.db.read() as conn:
            unsettled = await renewals.open_of_order(conn, order.id)
        for reference in unsettled:
            await self.actions.resolve_renewal(reference, now)
        if not unsettled:
            return False
        async with self.db.read() as conn:
            return bool(await renewals.open_of_order(conn, order.id))

    async def _cancel_upstream(self, order: Order) -> Upstream | None:
        """Cancel at an upstream that refunds: given back, refused (written off), or None if it could not say."""
        assert order.upstream_id is not None
        try:
            async with asyncio.timeout(self.orders.limits.call_deadline):
                await self.orders.catalog.get(order.provider).cancel(order.upstream_id)
        except CancelRefused as exc:
            logger.info("order %d: cancel at expiry refused by %s: %s", order.id, order.provider, exc)
            return settlement.written_off(WriteOff.CANCEL_REFUSED)
        except (ProviderError, TimeoutError) as exc:
            logger.info("order %d: cancel at expiry failed at %s: %r", order.id, order.provider, exc)
            return None
        return settlement.UPSTREAM_REFUNDED

    async def resolve_unclear(self, now: datetime | None = None) -> list[Order]:
        """Orders left unknown, or pending past a crash: looked up where the upstream allows, else
        refunded (status failed) and their possible purchase written off. Returns both kinds.

        An order this process is still buying is left alone, whatever its age."""
        now = now or datetime.now(UTC)
        refunded: list[Order] = []
        for order in await self._open(OrderStatus.PENDING, OrderStatus.UNKNOWN):
            age = now - q.parse_iso(order.created_at)
            if self.orders.inflight.busy(order.id):
                continue  # this process is still buying it
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
            async with self.db.transaction() as conn:
                failed = await settlement.refund(
                    conn, order.id, OrderStatus.FAILED, (order.status,), error=f"unresolved {order.status}"
                )
                if failed is not None:
                    await settlement.write_off_unclear(conn, failed)
            if failed is not None:
                logger.warning("order %d at %s refunded unresolved (%s)", order.id, order.provider, order.status)
                refunded.append(failed)
        async with self.db.read() as conn:
            stale = await renewals.stale(conn, q.iso(now - self.pending_grace))
        for reference in stale:
            if not self.orders.inflight.renewal_busy(reference):
                await self.actions.resolve_renewal(reference, now)
        return refunded

    async def _lookup(self, order: Order) -> Order | bool | None:
        """The order made active from the upstream's record; None if it has none; False if it could not say."""
        provider = self.orders.catalog.providers.get(order.provider)
        if provider is None or not provider.can_lookup:
            return None
        if self.orders.inflight.buying_at(order.provider):
            return False  # a purchase in flight there could be mistaken for this one: asked again later
        starts = self.orders.inflight.starts(order.provider)
        offer = Offer(order.provider, order.service, order.country, None, "", None, order.product_id, order.rent_days)
        try:
            purchase = await provider.lookup(offer, q.parse_iso(order.created_at) - timedelta(minutes=1))
        except ProviderError as exc:
            logger.info("order %d: lookup at %s failed: %s", order.id, order.provider, exc)
            return False
        if self.orders.inflight.starts(order.provider) != starts:
            return False  # a purchase started there while we looked: what we found may be its number
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
            if active is not None:
                cost = purchase.cost if purchase.cost is not None else order.cost
                await settlement.record(
                    conn, order, upstream_id=purchase.upstream_id, cost=cost, currency=order.cost_currency
                )
        logger.info("order %d: found at %s after an unclear purchase", order.id, order.provider)
        return active
