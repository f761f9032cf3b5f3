"""Orders whose purchase is unclear: left ``unknown`` by a lost answer, or ``pending`` past a crash.

Each is looked up where the upstream allows (its number made active), else refunded as failed with
its possible purchase written off. Renewals left open the same way are settled here too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.orders import settlement
from bot.orders.polling import Polling
from bot.orders.renewals import LOOKUP_PATIENCE
from providers.base import Offer
from providers.errors import ProviderError
from storage import orders as order_rows
from storage import renewals
from storage.orders import Order, OrderStatus

logger = logging.getLogger(__name__)


class UnclearOrders(Polling):
    async def resolve_unclear(self, now: datetime | None = None) -> list[Order]:
        """Orders left unknown, or pending past a crash: looked up where the upstream allows, else
        refunded (status failed) and their possible purchase written off. Returns both kinds.

        An order this process is still buying is left alone, whatever its age; so is one another live replica
        holds, which may be buying it, until its lease runs out."""
        now = now or datetime.now(UTC)
        refunded: list[Order] = []
        unclear = await self._open(OrderStatus.PENDING, OrderStatus.UNKNOWN)
        elsewhere = await self._held_elsewhere([o.id for o in unclear])
        for order in unclear:
            age = now - order_rows.parse_iso(order.created_at)
            if self.orders.inflight.busy(order.id) or order.id in elsewhere:
                continue  # this process, or another replica, may still be buying it
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
            stale = await renewals.stale(conn, order_rows.iso(now - self.pending_grace))
        for reference in stale:  # past their grace: resolved whoever holds their order, as on one process
            if not self.orders.inflight.renewal_busy(reference):
                await self.actions.resolve_renewal(reference, now)
        return refunded

    async def _held_elsewhere(self, order_ids: Sequence[int]) -> set[int]:
        """Orders another live replica holds (:meth:`bot.orders.leases.Leases.held_elsewhere`)."""
        return set() if self.leases is None else await self.leases.held_elsewhere(order_ids)

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
            purchase = await provider.lookup(offer, order_rows.parse_iso(order.created_at) - timedelta(minutes=1))
        except ProviderError as exc:
            logger.info("order %d: lookup at %s failed: %s", order.id, order.provider, exc)
            return False
        if self.orders.inflight.starts(order.provider) != starts:
            return False  # a purchase started there while we looked: what we found may be its number
        if purchase is None:
            return None
        async with self.db.transaction() as conn:
            owner = await order_rows.owner_of(conn, order.provider, purchase.upstream_id)
            if owner is not None and owner != order.id:
                logger.warning("order %d: lookup found %s, which order %d holds", order.id, order.provider, owner)
                return None
            active = await order_rows.update(
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
