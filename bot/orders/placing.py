"""Placing orders: the charge and the order are one transaction; the upstream is asked after.

The user's guards (open orders, purchases a minute) are checked in that transaction; buying at the
upstreams, with its failover and unclear answers, is :mod:`bot.orders.buying`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.faults import crash_point
from bot.money.pricing import Pricing, Quote
from bot.orders.buying import Buying
from bot.orders.leases import Leases
from bot.orders.outcomes import Outcome, Result
from bot.orders.refunds import RefundPolicy, Terms
from bot.orders.settlement import Inflight
from bot.runtime.log_context import bind
from providers.catalog import Catalog
from storage import ledger, order_history, order_limits
from storage import orders as order_rows
from storage.backends import Store
from storage.orders import Order, OrderSms

logger = logging.getLogger(__name__)

#: the message that becomes the i-th order's card, when several are placed at once (None: none)
CardMessage = Callable[[int], Awaitable[int | None]]
#: orders on one page of /orders
HISTORY_PAGE = 10


@dataclass(frozen=True, slots=True)
class History:
    """A page of a user's orders: ``orders`` is page ``page`` (from 0) of ``pages``."""

    orders: list[Order]
    page: int
    pages: int
    open_only: bool


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-user guards on purchases, and the deadlines of the upstream calls inside one."""

    max_open: int = 10  # open orders at once
    per_minute: int = 10  # purchases started in the last minute
    call_deadline: float = 30.0  # seconds for one upstream call of a purchase or renewal
    routing_deadline: float = 60.0  # no new offer is tried after this many seconds of routing

    @classmethod
    def for_grace(cls, grace: float, max_open: int = 10, per_minute: int = 10) -> Limits:
        """Deadlines well under the grace period after which the sweep resolves a pending order."""
        return cls(max_open, per_minute, call_deadline=min(30.0, grace / 4), routing_deadline=grace / 2)


class OrderService(Buying):
    def __init__(
        self,
        db: Store,
        catalog: Catalog,
        pricing: Pricing,
        timeout: timedelta,
        *,
        policy: RefundPolicy,
        limits: Limits,
        leases: Leases | None = None,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.pricing = pricing
        self.timeout = timeout
        self.policy = policy
        self.limits = limits
        self.inflight = Inflight()
        self.leases = leases  # this replica's leases on open orders (bot.orders.leases); None: one process

    async def terms(self, quote: Quote, user_id: int) -> Terms:
        """The refund terms of the offer a Confirm would buy first, for the confirmation screen."""
        return self.policy.terms(quote.offers[0], await self.policy.over_limit(user_id))

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
        accept_nonrefundable: bool = False,
    ) -> Result:
        """Charge and buy, once per ``request_key`` however many times Confirm is tapped.

        ``card_message_id`` is the confirmation message, which becomes the order card.
        ``accept_nonrefundable``: the screen the user confirmed said the number is not refundable.
        """
        async with self.db.read() as conn:
            existing = await order_rows.by_request_key(conn, request_key)
        if existing:
            return Result(Outcome.DUPLICATE, existing)
        quote = await self.quote(country, service, rent_days)
        if quote is None:
            return Result(Outcome.OUT_OF_STOCK)
        if quote.price > confirmed:
            return Result(Outcome.PRICE_CHANGED, quote=quote)
        first = quote.offers[0]
        lifetime = timedelta(days=rent_days) if rent_days else self.timeout
        try:
            async with self.db.transaction() as conn:
                existing = await order_rows.by_request_key(conn, request_key)
                if existing:
                    return Result(Outcome.DUPLICATE, existing)
                over_limit = await self.policy.exposure(conn, user_id) >= self.policy.write_off_limit
                terms = self.policy.terms(first, over_limit)
                if not accept_nonrefundable and not terms.refundable:
                    return Result(Outcome.TERMS_CHANGED, quote=quote)
                if await order_limits.count_open(conn, user_id) >= self.limits.max_open:
                    return Result(Outcome.TOO_MANY_OPEN, limit=self.limits.max_open)
                since = order_rows.iso(datetime.now(UTC) - timedelta(minutes=1))
                if await order_limits.count_since(conn, user_id, since) >= self.limits.per_minute:
                    return Result(Outcome.TOO_FAST, limit=self.limits.per_minute)
                order = await order_rows.create(
                    conn,
                    user_id=user_id,
                    request_key=request_key,
                    provider=first.provider,
                    country=country,
                    service=service,
                    price=quote.price,
                    chat_id=chat_id,
                    expires_at=datetime.now(UTC) + lifetime,
                    rent_days=rent_days,
                    card_message_id=card_message_id,
                    cost=first.cost,
                    cost_currency=first.currency,
                    refundable=terms.refundable,
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
        with bind(order_id=order.id), self.inflight.buying(order.id, first.provider):
            logger.info("order %d: %s in %s charged %d, buying", order.id, service, country, quote.price)
            return await self._buy(order, quote, confirmed, accept_nonrefundable, over_limit)

    async def place_several(
        self,
        *,
        qty: int,
        user_id: int,
        chat_id: int,
        request_key: str,
        country: str,
        service: str,
        confirmed: int,
        card_message: CardMessage,
        rent_days: int | None = None,
        accept_nonrefundable: bool = False,
    ) -> AsyncIterator[Result]:
        """Several numbers from one confirmation: ``qty`` ordinary orders placed one after another, each
        charged, bought, refunded and carded on its own (:meth:`place`, request key ``<request_key>:<i>``, so a
        second tap of the same Confirm places none twice), within the same per-user limits. Yields each
        result as it comes; stops after the first that is not a plain success (a refusal, a failure, an
        unclear purchase, or a duplicate: the other tap places the rest). ``card_message(i)`` gives the
        message that becomes the i-th order's card."""
        for i in range(qty):
            result = await self.place(
                user_id=user_id,
                chat_id=chat_id,
                request_key=f"{request_key}:{i}",
                country=country,
                service=service,
                confirmed=confirmed,
                rent_days=rent_days,
                card_message_id=await card_message(i),
                accept_nonrefundable=accept_nonrefundable,
            )
            yield result
            if result.outcome is not Outcome.PLACED:
                return

    async def quotes_of(self, country: str, service: str) -> list[Quote]:
        """Every quote of one service in one country: the one-off number and each rental length."""
        found = self.pricing.quotes(await self.catalog.offers(country=country, service=service))
        return [self.policy.prefer_refundable(qt, self.pricing.price) for qt in found]

    async def recent(self, user_id: int, limit: int = 10) -> list[Order]:
        async with self.db.read() as conn:
            return await order_rows.for_user(conn, user_id, limit)

    async def history(self, user_id: int, page: int, *, open_only: bool = False) -> History:
        """One page of the user's orders, the newest first (open ones only, with ``open_only``); a page
        past the end is the last one."""
        async with self.db.read() as conn:
            total = await order_history.count(conn, user_id, open_only=open_only)
            pages = max((total + HISTORY_PAGE - 1) // HISTORY_PAGE, 1)
            page = min(max(page, 0), pages - 1)
            shown = await order_history.page(
                conn, user_id, offset=page * HISTORY_PAGE, limit=HISTORY_PAGE, open_only=open_only
            )
        return History(shown, page, pages, open_only)

    async def sms(self, order_id: int) -> list[OrderSms]:
        async with self.db.read() as conn:
            return await order_rows.sms_of(conn, order_id)

    async def mark_delivered(self, sms_id: int) -> None:
        """The SMS reached the user's chat (or was given up as undeliverable): not sent again."""
        async with self.db.transaction() as conn:
            await order_rows.mark_delivered(conn, sms_id)

    def is_demo(self, order: Order) -> bool:
        provider = self.catalog.providers.get(order.provider)
        return provider is not None and provider.is_demo
