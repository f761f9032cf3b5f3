"""Asking the upstreams about open orders: new SMS recorded, the first one selling the number.

A poll run goes upstream by upstream. Where the upstream lists every open order in one call
(``can_list_active``) that bulk read answers for the orders it lists; the rest, and every order at an
upstream without one, are checked one by one as :mod:`bot.orders.poll_plan` schedules them within the
upstream's read budget. Everything is read from the database on each call, so a restart resumes every open
order. The base of :class:`bot.orders.tracking.Tracker`.

With :class:`bot.orders.leases.Leases` (the orders' ``leases``; the bot always has them) a run polls only the
orders this replica holds: several replicas sharing one database ask about each order once a run. Without
(tests of one process), every order is this process's.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from bot.faults import crash_point
from bot.orders import settlement
from bot.orders.actions import OrderActions
from bot.orders.leases import Leases
from bot.orders.placing import OrderService
from bot.orders.poll_schedule import planned
from bot.orders.sms_news import CLOSED_UPSTREAM, news, prints_of
from bot.runtime.log_context import binds_order
from providers.base import Provider, Status, UpstreamState
from providers.errors import ProviderError
from providers.otp import extract_code, upstream_code
from storage import orders as order_rows
from storage import purchases, sms_seen, waiting_orders
from storage.orders import Order, OrderStatus
from storage.waiting_orders import Waiting

logger = logging.getLogger(__name__)

#: an order left pending this long was interrupted by a crash between charge and upstream answer
PENDING_GRACE = timedelta(minutes=2)
#: the poll interval assumed when a caller does not give one (the setting's default)
INTERVAL = 5.0
#: the share of an interval's reads a run plans: the rest is headroom for Refresh taps and catalog reads, and
#: keeps a run inside its interval (one that overruns makes the scheduler skip the next: half the checks)
POLL_SHARE = 0.8
#: seconds a failed bulk read is not tried again (the upstream's orders are checked one by one meanwhile)
BULK_RETRY = 60.0
#: orders of a bulk answer gone through between two turns of the event loop
YIELD_EVERY = 1000


@dataclass
class PollRun:
    """What one poll run did: its figures, and the orders that changed (new SMS or closed upstream)."""

    orders: int  # open orders waiting for SMS
    checks: int = 0  # per-order checks asked
    bulk_calls: int = 0  # bulk reads of every open order at one upstream
    deferred: int = 0  # per-order checks due but over the read budget: left for a later run
    changed: list[Order] = field(default_factory=list)


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
        self._unlisted: dict[str, float] = {}  # upstream whose bulk read failed -> loop time to try it again
        self.leases: Leases | None = orders.leases  # None: one process, every order its own

    async def _open(self, *statuses: OrderStatus) -> list[Order]:
        async with self.db.read() as conn:
            return await order_rows.open_orders(conn, statuses)

    async def poll_all(self, interval: float = INTERVAL) -> list[Order]:
        """One poll run (:meth:`poll_run`); the orders that changed, for the caller to notify."""
        return (await self.poll_run(interval)).changed

    async def poll_run(self, interval: float) -> PollRun:
        """Ask the upstreams about every order waiting for SMS, as one run of a job every ``interval`` seconds;
        each order read as a few columns (:mod:`storage.waiting_orders`), whole only when the run acts on it."""
        if self.leases is not None:
            await self.leases.refresh()  # claims when due; the other replicas poll the rest
        async with self.db.read() as conn:
            waiting = await waiting_orders.waiting(conn, None if self.leases is None else self.leases.name)
        open_ids = {w.id for w in waiting}
        for closed in [oid for oid in self._asked if oid not in open_ids]:  # forgotten (cheaper than a new dict)
            del self._asked[closed]
        by_upstream: dict[str, list[Waiting]] = defaultdict(list)
        for row in waiting:
            by_upstream[row.provider].append(row)
        run = PollRun(orders=len(waiting))
        await asyncio.gather(*(self._poll_upstream(name, held, interval, run) for name, held in by_upstream.items()))
        return run

    async def _poll_upstream(self, name: str, orders: list[Waiting], interval: float, run: PollRun) -> None:
        """One upstream's share of a run: its bulk read if it has one, then the per-order checks due."""
        try:
            provider: Provider | None = self.orders.catalog.get(name)
        except ProviderError:
            provider = None  # no longer configured: each order's check says so
        unlisted, bulk_calls, now = orders, 0, asyncio.get_running_loop().time()
        if provider is not None and provider.can_list_active and self._unlisted.get(name, now) <= now:
            bulk_calls, asked_at = provider.active_cost, now
            listed = await self._list_active(provider)
            if listed is not None:
                unlisted = await self._record_listed(orders, listed, asked_at, run)
        rate: float | None = getattr(provider, "read_rate", None)
        budget = None if rate is None else max(int(rate * interval * POLL_SHARE) - bulk_calls, 1)
        chosen = await planned(unlisted, self._asked, interval, budget)
        run.bulk_calls += bulk_calls
        run.checks += len(chosen.ask)
        run.deferred += chosen.deferred
        limit = asyncio.Semaphore(self.concurrency)
        whole = await self._whole(chosen.ask)

        async def one(order: Order) -> Order | None:
            async with limit:
                return await self.poll(order)

        results = await asyncio.gather(*(one(whole[oid]) for oid in chosen.ask if oid in whole))
        run.changed += [o for o in results if o is not None]

    async def _whole(self, order_ids: list[int]) -> dict[int, Order]:
        """The orders a run acts on, read whole (no read at all for none)."""
        if not order_ids:
            return {}
        async with self.db.read() as conn:
            return await waiting_orders.by_id(conn, order_ids)

    async def _list_active(self, provider: Provider) -> dict[str, Status] | None:
        """The upstream's bulk read; None when it failed: then not tried again for :data:`BULK_RETRY` seconds
        (its orders checked one by one meanwhile), logged once until it works again."""
        try:
            listed = await provider.active()
        except Exception as exc:  # a provider error, or anything unexpected: its orders are checked one by one
            if provider.name not in self._unlisted:
                logger.warning("%s: listing open orders failed, checking them one by one: %s", provider.name, exc)
            self._unlisted[provider.name] = asyncio.get_running_loop().time() + BULK_RETRY
            return None
        if self._unlisted.pop(provider.name, None) is not None:
            logger.info("%s: listing open orders works again", provider.name)
        return listed

    async def _record_listed(
        self, orders: list[Waiting], listed: dict[str, Status], asked_at: float, run: PollRun
    ) -> list[Waiting]:
        """Record a bulk read (made at loop time ``asked_at``) for the orders it lists; the orders it leaves out.

        Only orders with news (an SMS not stored yet, or closed upstream) are read whole and recorded, their
        stored fingerprints read once for all: a quiet run costs no read per order and no transaction. The
        event loop is let in every :data:`YIELD_EVERY` orders."""
        unlisted: list[Waiting] = []
        with_sms: list[Waiting] = []  # listed with SMS: news only if one is not stored yet
        acting: list[Waiting] = []
        for n, order in enumerate(orders, 1):
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            status = None if order.upstream_id is None else listed.get(order.upstream_id)
            if status is None:
                unlisted.append(order)
                continue
            self._asked[order.id] = asked_at  # a Refresh meanwhile shows the stored state
            if status.sms:
                with_sms.append(order)
            elif status.state in CLOSED_UPSTREAM:
                acting.append(order)
        seen: dict[int, set[str]] = {}
        if with_sms:
            async with self.db.read() as conn:
                seen = await sms_seen.fingerprints(conn, [o.id for o in with_sms])
        acting += [o for o in with_sms if news(listed[o.upstream_id or ""], seen.get(o.id, set()))]
        acting.sort(key=lambda o: o.id)
        whole = await self._whole([o.id for o in acting])
        for row in (o for o in acting if o.id in whole):  # (an id with no order any more is left out)
            result = await self.record(whole[row.id], listed[row.upstream_id or ""], seen.get(row.id, set()))
            run.changed += [result] if result is not None else []
        return unlisted

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

    @binds_order
    async def poll(self, order: Order) -> Order | None:
        """One upstream check; the order if it changed, None otherwise (errors included)."""
        self._asked[order.id] = asyncio.get_running_loop().time()  # before asking: taps meanwhile show the stored state
        status = await self.fetch(order)
        if status is None:
            return None
        if self._failing.pop(order.id, None):
            logger.info("order %d: polling %s works again", order.id, order.provider)
        return await self.record(order, status)

    @binds_order
    async def record(self, order: Order, status: Status, seen: set[str] | None = None) -> Order | None:
        """Store SMS not seen before; the first one moves the order to code_received (the number is sold).

        ``seen``: the order's stored SMS fingerprints when the caller read them already. When every SMS is
        stored (a code_received order lists its SMS on every poll) nothing is written.
        """
        added = False
        if not status.sms:  # the common case: nothing new, no transaction
            if status.state in CLOSED_UPSTREAM:
                if status.state is UpstreamState.CANCELLED:  # the upstream withdrew the number: it refunds
                    return await self.actions.close_without_code(
                        order, OrderStatus.CANCELLED, "upstream cancelled", withdrawn=True
                    )
                return await self.actions.close_without_code(order, OrderStatus.EXPIRED, "upstream expired")
            return None
        prints = prints_of(status)
        if seen is None:
            async with self.db.read() as conn:
                seen = (await sms_seen.fingerprints(conn, [order.id])).get(order.id, set())
        if all(fp in seen for _, fp in prints):
            return None  # all stored already: no write transaction
        async with self.db.transaction() as conn:
            current = await order_rows.get(conn, order.id)
            if current is None or current.status not in (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED):
                return None  # refunded (cancel, expiry) since the upstream was asked: the code is not ours to give
            for sms, fp in prints:
                code = upstream_code(sms.code) or extract_code(sms.text)
                added |= await order_rows.add_sms(conn, order.id, sms.text, code, sms.sender, fp)
            if added and current.status is OrderStatus.ACTIVE:
                await order_rows.update(conn, order.id, expect=(OrderStatus.ACTIVE,), status=OrderStatus.CODE_RECEIVED)
                await purchases.settle_order(conn, order.id, *settlement.SOLD)
        if added:
            crash_point("sms_stored")
        return await self.orders.get(order.id) if added else None
