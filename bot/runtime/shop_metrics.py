"""The metrics read from the database at scrape time, and the upstream breakers' state.

Orders, upstream purchases, write-offs, refunds, balances and the ledger are kept in the database,
so their figures are gauges computed from it (:mod:`storage.totals`) rather than counters that a
restart would zero. Those queries scan whole tables (a few seconds of a worker thread at a million
ledger rows, on a read-only connection of their own that never holds up the bot's; on PostgreSQL, a
connection of the pool: reads take no lock there), so a scrape reads them at most once per ``ttl``
seconds, and scrapes arriving together share one read: a scrape storm costs nothing more. The ledger is
read incrementally: only the rows added since the last read.

Money is integer minor units; the currency is a label (``currency``): the bot's for prices,
balances, refunds and the ledger, each purchase's own for upstream costs.

``smsbot_upstream_breaker_state`` is read live from each guarded upstream: 0 closed (calls flow),
0.5 half-open (the cool-down is over, the next call is a trial), 1 open (calls refused).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric

from bot.runtime.metrics import Figures
from providers.base import Provider
from providers.guard import BreakerState, GuardedProvider
from storage import totals as total_queries
from storage.backends import Store
from storage.totals import LedgerTally, Totals

logger = logging.getLogger(__name__)

#: seconds a database read serves scrapes (Prometheus scrapes every 15 to 60 s)
DEFAULT_TTL = 15.0
BREAKER_VALUES = {BreakerState.CLOSED: 0.0, BreakerState.HALF_OPEN: 0.5, BreakerState.OPEN: 1.0}


class ShopFigures(Figures):
    """The gauges of the shop's database (at ``path``, watched by ``db``; on PostgreSQL read through
    ``db``, ``path`` unused) and the upstreams' breakers; :meth:`refresh` before each scrape,
    :meth:`collect` from what the last read found."""

    def __init__(
        self,
        db: Store,
        path: Path,
        providers: Sequence[Provider],
        currency: str,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.path = path
        self.providers = [p for p in providers if isinstance(p, GuardedProvider)]
        self.currency = currency
        self.ttl = ttl
        self.clock = clock
        self.totals: Totals | None = None
        self.ledger = LedgerTally()  # kept between reads: the next one reads only the newer rows
        self.reads = 0  # database reads so far (the cache's test reads it)
        self._read_at = -float("inf")
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._lock:  # scrapes arriving together: the first reads, the others find it fresh
            if self.clock() - self._read_at < self.ttl or not self.db.check():  # replaced file: keep the last
                return
            if self.db.dialect == "sqlite":  # a connection of its own: never waits for the bot's lock
                async with total_queries.reader(self.path) as conn:
                    self.totals = await total_queries.totals(conn, self.ledger)
            else:  # a server: a pooled connection reads beside the bot's, reads take no lock
                async with self.db.read() as conn:
                    self.totals = await total_queries.totals(conn, self.ledger)
            self.reads += 1
            self._read_at = self.clock()

    def collect(self) -> Iterator[Metric]:
        yield self._breakers()
        if self.totals is not None:
            yield from self._money(self.totals)

    def _breakers(self) -> Metric:
        family = GaugeMetricFamily(
            "smsbot_upstream_breaker_state",
            "Circuit breaker of each upstream: 0 closed, 0.5 half-open (next call is a trial), 1 open",
            labels=["upstream"],
        )
        for p in self.providers:
            family.add_metric([p.name], BREAKER_VALUES[p.breaker.state])
        return family

    def _money(self, t: Totals) -> Iterator[Metric]:
        cur = self.currency
        orders = gauge("smsbot_orders", "Orders by status", ["status"])
        prices = gauge(
            "smsbot_orders_price_minor", "Sum of order prices by status, minor units", ["status", "currency"]
        )
        for status, c in sorted(t.orders.items()):
            orders.add_metric([status], c.rows)
            prices.add_metric([status, cur], c.amount)
        purchases = gauge(
            "smsbot_upstream_purchases",
            "Upstream purchases by upstream, kind (number, renewal) and outcome (open, sold, upstream_refunded, "
            "written_off)",
            ["upstream", "kind", "outcome"],
        )
        costs = gauge(
            "smsbot_upstream_purchase_cost_minor",
            "Known upstream cost of the purchases, minor units of the upstream's currency",
            ["upstream", "kind", "outcome", "currency"],
        )
        counted: dict[tuple[str, str, str], int] = {}
        for g in t.purchases:
            key = (g.upstream, g.kind, g.outcome)
            counted[key] = counted.get(key, 0) + g.rows
            if g.currency:
                costs.add_metric([*key, g.currency], g.cost)
        for key, n in counted.items():
            purchases.add_metric(list(key), n)
        write_offs = gauge(
            "smsbot_write_offs",
            "Purchases whose cost the operator bore, by upstream and reason",
            ["upstream", "reason"],
        )
        for (upstream, reason), n in sorted(t.write_offs.items()):
            write_offs.add_metric([upstream, reason], n)
        refunds = gauge("smsbot_refunds", "Refunds to users (orders and renewals) by upstream", ["upstream"])
        refunded = gauge(
            "smsbot_refunds_minor", "Sum refunded to users by upstream, minor units", ["upstream", "currency"]
        )
        for upstream, c in sorted(t.ledger.refunds.items()):
            refunds.add_metric([upstream], c.rows)
            refunded.add_metric([upstream, cur], c.amount)
        rows = gauge("smsbot_ledger_rows", "Ledger rows by kind", ["kind"])
        sums = gauge(
            "smsbot_ledger_minor",
            "Sum of ledger amounts by kind, minor units (+ credit, - debit)",
            ["kind", "currency"],
        )
        for kind, c in sorted(t.ledger.by_kind.items()):
            rows.add_metric([kind], c.rows)
            sums.add_metric([kind, cur], c.amount)
        users = gauge("smsbot_users", "Users known to the bot", [])
        users.add_metric([], t.balances.users)
        holders = gauge("smsbot_users_with_balance", "Users whose balance is above zero", [])
        holders.add_metric([], t.balances.with_balance)
        total = gauge(
            "smsbot_balances_minor", "Sum of every user's balance, minor units (equals the ledger's sum)", ["currency"]
        )
        total.add_metric([cur], t.balances.total)
        yield from (orders, prices, purchases, costs, write_offs, refunds, refunded, rows, sums, users, holders, total)


def gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)
