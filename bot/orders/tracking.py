"""Following open orders: record new SMS (:mod:`bot.orders.polling`), resolve orders left unclear
(:mod:`bot.orders.unclear`), and here: expire them, completed with a code or closed by their refund terms, and
say which replica pushes an order's news: the one holding its lease (:mod:`bot.orders.leases`), so that no SMS
reaches a chat twice when several replicas share the database.

Everything is read from the database on each call, so a restart resumes every open order.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from bot.orders import settlement
from bot.orders.renewals import LOOKUP_PATIENCE
from bot.orders.settlement import Upstream
from bot.orders.unclear import UnclearOrders
from bot.runtime.log_context import binds_order
from providers.errors import CancelRefused, ProviderError
from storage import orders as order_rows
from storage import renewals
from storage.orders import Order, OrderStatus
from storage.purchases import WriteOff

logger = logging.getLogger(__name__)


class Tracker(UnclearOrders):
    """Open orders from purchase to close; built with the orders and the :class:`bot.orders.actions.OrderActions`
    that closes them."""

    async def undelivered(self) -> list[Order]:
        """Orders with an SMS stored but not yet pushed to the chat (Telegram failed, or a crash)."""
        async with self.db.read() as conn:
            found = await order_rows.with_undelivered_sms(conn)
        if self.leases is None or not found:
            return found
        ours = await self.leases.take([o.id for o in found])  # another replica's: that one delivers them
        return [o for o in found if o.id in ours]

    async def ours_to_deliver(self, order: Order) -> bool:
        """May this replica push the order's news? Its SMS not delivered yet: only while it holds the order's
        lease (taking it if nobody holds it), so no SMS reaches the chat twice; no such SMS: yes (the card
        alone, which shows the stored state whoever refreshes it)."""
        if self.leases is None or all(sms.delivered for sms in await self.orders.sms(order.id)):
            return True
        return order.id in await self.leases.take([order.id])

    async def refresh(self, order: Order, min_interval: float) -> Order | None:
        """A user's Refresh: like :meth:`poll`, but the upstream is asked about an order at most once per
        ``min_interval`` seconds (the poll job's checks count); in between the stored state stands. A change
        is returned only when this replica may deliver it (:meth:`ours_to_deliver`): otherwise it is stored,
        and the replica holding the order pushes it at its next run."""
        asked = self._asked.get(order.id)
        if asked is not None and asyncio.get_running_loop().time() - asked < min_interval:
            return None
        changed = await self.poll(order)
        return changed if changed is None or await self.ours_to_deliver(changed) else None

    async def expire_due(self, now: datetime | None = None) -> list[Order]:
        """Close orders whose time ran out: completed with a code, else by their refund terms."""
        now = now or datetime.now(UTC)
        changed: list[Order] = []
        async with self.db.read() as conn:
            due = await order_rows.due_orders(conn, order_rows.iso(now))
        for order in due:
            try:
                result = await self._expire(order, now)
            except Exception:  # one bad order must not stop the others' refunds
                logger.exception("order %d: expiry failed; retried next run", order.id)
                continue
            if result is not None:
                changed.append(result)
        return changed

    @binds_order
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
        if not unsettled:
            return False
        if self.leases is not None and not self.leases.sole:  # another replica may be buying one: past grace only
            async with self.db.read() as conn:
                past_grace = set(await renewals.stale(conn, order_rows.iso(now - self.pending_grace)))
            unsettled = [reference for reference in unsettled if reference in past_grace]
        for reference in unsettled:
            await self.actions.resolve_renewal(reference, now)
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
