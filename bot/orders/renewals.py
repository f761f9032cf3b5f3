"""Renewing a rental: charge, ask the upstream, then extend or refund; lost answers resolved later.

A renewal is not refundable once the upstream confirms it (the extra days are held for the user;
the Renew confirmation says so). A lost answer leaves it ``unknown``; the sweep then reads the
order's expiry at the upstream: extended means applied, not extended means refunded, and an
upstream that cannot say by ``LOOKUP_PATIENCE`` gets the user refunded and the renewal written off.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import aiosqlite

from bot.orders import settlement
from bot.orders.outcomes import Outcome, Result
from bot.orders.placing import OrderService
from providers.base import Offer
from providers.catalog import Catalog
from providers.errors import ProviderError, UnclearResult
from storage import ledger, renewals
from storage import orders as order_rows
from storage.backends import Store
from storage.orders import Order, OrderStatus
from storage.purchases import WriteOff

logger = logging.getLogger(__name__)

#: how long a renewal whose answer was lost may wait for an upstream that cannot say
LOOKUP_PATIENCE = timedelta(minutes=15)


class Renewing:
    """The renewal half of :class:`bot.orders.actions.OrderActions`."""

    orders: OrderService
    db: Store
    catalog: Catalog

    async def renew(self, order_id: int, user_id: int, days: int, nonce: str, shown_price: int) -> Result:
        """Extend a rental: charge, ask the upstream, refund if it says no. Once per ``nonce``.

        The charge is the current price, never more than ``shown_price`` (what the user confirmed). Once
        the upstream confirms, the renewal is not refundable. A lost answer leaves it ``unknown``: it is
        checked at the upstream later, then applied or refunded, never both.
        """
        order = await self.orders.get(order_id, user_id)
        if order is None:
            return Result(Outcome.NOT_FOUND)
        provider = self.catalog.providers.get(order.provider)
        if not order.rent_days or order.upstream_id is None or provider is None or not provider.can_renew:
            return Result(Outcome.UNSUPPORTED, order)
        if order.status not in (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED) or order.expires_at <= datetime.now(UTC):
            return Result(Outcome.CLOSED, order)
        offer = await self.renewal_offer(order, days)
        price = self.orders.pricing.price(offer) if offer else None
        if offer is None or price is None:
            return Result(Outcome.OUT_OF_STOCK, order)
        if price > shown_price:
            return Result(Outcome.PRICE_CHANGED, order)
        reference = f"order:{order.id}:renew:{nonce}"
        try:
            async with self.db.transaction() as conn:
                current = await order_rows.get(conn, order.id)
                if current is None or not current.is_open or current.expires_at <= datetime.now(UTC):
                    return Result(Outcome.CLOSED, current)  # closed (or expiring) since the screen was shown
                if not await renewals.add(conn, order.id, reference, days, price):
                    return Result(Outcome.DUPLICATE, order)
                await ledger.post(
                    conn, user_id=user_id, amount=-price, kind="renewal", reference=reference, order_id=order.id
                )
        except ledger.InsufficientFunds:
            return Result(Outcome.INSUFFICIENT, order)
        with self.orders.inflight.renewing(reference):
            try:
                async with asyncio.timeout(self.orders.limits.call_deadline):
                    new_expiry = await provider.renew(order.upstream_id, days)
            except (UnclearResult, TimeoutError) as exc:
                logger.warning("order %d: renewal at %s unclear, to be checked: %r", order.id, order.provider, exc)
                async with self.db.transaction() as conn:
                    await renewals.move(conn, reference, "unknown")
                return Result(Outcome.UNKNOWN, order)
            except ProviderError as exc:
                logger.warning("order %d: renew at %s failed, refunding: %s", order.id, order.provider, exc)
                await self.refund_renewal(reference)
                return Result(Outcome.UNAVAILABLE, order)
            return await self.apply_renewal(order, reference, days, new_expiry, offer)

    async def apply_renewal(
        self, order: Order, reference: str, days: int, new_expiry: datetime | None, offer: Offer | None
    ) -> Result:
        """The upstream renewed: extend the order and keep the charge; if the order or the renewal was
        closed meanwhile, the user gets the charge back and the operator writes the renewal off."""
        cost = offer.cost if offer else None
        async with self.db.transaction() as conn:
            renewal = await renewals.get(conn, reference)
            sellable = renewal is not None and renewal.status in ("pending", "unknown")
            renewed = None
            current = await order_rows.get(conn, order.id)  # not ``order``: another renewal may have landed since
            if sellable and current is not None:
                renewed = await order_rows.update(
                    conn,
                    order.id,
                    expect=(OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED),
                    expires_at=max(new_expiry or current.expires_at + timedelta(days=days), current.expires_at),
                    rent_days=(current.rent_days or 0) + days,
                )
            if renewed is not None:
                await renewals.move(conn, reference, "done", ("pending", "unknown"))
            elif sellable:
                await self._refund_renewal(conn, reference, ("pending", "unknown"))
            outcome = settlement.SOLD if renewed else settlement.written_off(WriteOff.ORPHANED)
            await settlement.record(
                conn,
                order,
                upstream_id=order.upstream_id,
                cost=cost,
                currency=offer.currency if offer else None,
                kind="renewal",
                reference=reference,
                outcome=outcome,
            )
        if renewed is None:
            logger.warning("order %d: renewed at %s after it closed; written off", order.id, order.provider)
            return Result(Outcome.CLOSED, await self.orders.get(order.id))
        return Result(Outcome.RENEWED, renewed)

    async def renewal_offer(self, order: Order, days: int) -> Offer | None:
        """The offer renewing this rental for ``days`` would be priced at, at the upstream that holds the number."""
        quote = await self.orders.quote(order.country, order.service, days)
        return next((o for o in quote.offers if o.provider == order.provider), None) if quote else None

    async def renewal_price(self, order: Order, days: int) -> int | None:
        """What renewing this rental for ``days`` costs now."""
        offer = await self.renewal_offer(order, days)
        return self.orders.pricing.price(offer) if offer else None

    async def refund_renewal(self, reference: str, expect: tuple[str, ...] = ("pending",)) -> bool:
        """Give a renewal's charge back (the upstream said no, or never renewed)."""
        async with self.db.transaction() as conn:
            return await self._refund_renewal(conn, reference, expect)

    async def _refund_renewal(self, conn: aiosqlite.Connection, reference: str, expect: tuple[str, ...]) -> bool:
        renewal = await renewals.get(conn, reference)
        if renewal is None or not await renewals.move(conn, reference, "refunded", expect):
            return False
        order = await order_rows.get(conn, renewal.order_id)
        assert order is not None
        await settlement.credit_back(conn, order, renewal.price, reference)
        return True

    async def resolve_renewal(self, reference: str, now: datetime | None = None) -> bool:
        """Settle a renewal left pending by a crash or unknown by a lost answer; True once settled."""
        now = now or datetime.now(UTC)
        async with self.db.read() as conn:
            renewal = await renewals.get(conn, reference)
            order = await order_rows.get(conn, renewal.order_id) if renewal else None
        if renewal is None or order is None or renewal.status not in ("pending", "unknown"):
            return False
        provider = self.catalog.providers.get(order.provider)
        status = None
        if provider is not None and order.upstream_id is not None:
            try:
                async with asyncio.timeout(self.orders.limits.call_deadline):
                    status = await provider.check(order.upstream_id)
            except (ProviderError, TimeoutError) as exc:
                logger.info("renewal %s: check at %s failed: %r", reference, order.provider, exc)
        if status is not None and status.expires_at is not None:
            if status.expires_at >= order.expires_at + timedelta(days=renewal.days) - timedelta(hours=1):
                offer = await self.renewal_offer(order, renewal.days)
                await self.apply_renewal(order, reference, renewal.days, status.expires_at, offer)
            else:  # the upstream did not extend it: nothing was spent there
                await self.refund_renewal(reference, ("pending", "unknown"))
            return True
        if now - order_rows.parse_iso(renewal.created_at) < LOOKUP_PATIENCE:
            return False  # the upstream cannot say now; asked again next run
        offer = await self.renewal_offer(order, renewal.days)
        async with self.db.transaction() as conn:
            if not await self._refund_renewal(conn, reference, ("pending", "unknown")):
                return False
            await settlement.record(
                conn,
                order,
                upstream_id=order.upstream_id,
                cost=offer.cost if offer else None,
                currency=offer.currency if offer else None,
                kind="renewal",
                reference=reference,
                outcome=settlement.written_off(WriteOff.RENEWAL_UNCLEAR),
            )
        logger.warning("renewal %s at %s never confirmed: refunded and written off", reference, order.provider)
        return True
