"""The poll cycle over many active orders in PostgreSQL, on one replica and split across two.

A "replica" here is what a bot process holds for polling: its own pool on the database and its own
services (:class:`~bot.orders.tracking.Tracker` over an :class:`~bot.orders.placing.OrderService`), built as
``bot/services.py`` builds them, with the upstream behind the real guard (its rate limiter at the default
20 requests/s). The upstream lists every open order in one call (``can_list_active``, as sms-activate's
``getActiveActivations``), answered from memory at once: what is timed is the bot's side of the cycle, the
database reads and writes included. The orders are written with one statement per thousand (seeding is not
what is measured), all waiting for their SMS and none due, so a cycle changes nothing and sends nothing.

Measured: one poll run of one replica over all of them; then, on two replicas, a first run on each (each
claims its share when the build leases orders) and the second, steady one, each replica's run timed alone,
as it would run on a machine of its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.money.pricing import Pricing
from bot.orders.actions import OrderActions
from bot.orders.leases import Leases
from bot.orders.placing import Limits, OrderService
from bot.orders.refunds import RefundPolicy
from bot.orders.tracking import Tracker
from bot.settings import Settings
from providers.base import Balance, Offer, Provider, Purchase, Status, UpstreamState
from providers.catalog import Catalog
from providers.guard import GuardedProvider
from storage.backends import Store
from storage.orders import OrderStatus
from storage.postgres import PostgresDatabase
from storage.timestamps import iso

CHUNK = 1000  # orders per INSERT batch while seeding
BUYERS = 1000  # the orders belong to this many users


class Listing(Provider):
    """An upstream holding ``count`` open activations, all waiting: one listing answers for every one."""

    name = "lister"
    can_list_active = True

    def __init__(self, count: int) -> None:
        self.listed = {f"a{i}": Status(UpstreamState.WAITING) for i in range(count)}
        self.calls = 0

    async def active(self) -> dict[str, Status]:
        self.calls += 1
        return self.listed

    async def check(self, upstream_id: str) -> Status:
        self.calls += 1
        return self.listed[upstream_id]

    async def offers(self, country: str | None = None) -> list[Offer]:
        return []

    async def buy(self, offer: Offer) -> Purchase:
        raise NotImplementedError

    async def cancel(self, upstream_id: str) -> None:
        raise NotImplementedError

    async def balance(self) -> Balance:
        return Balance(0, "USD")


@dataclass(frozen=True)
class Cycle:
    polled: int  # open orders the run looked at (its share, when orders are leased)
    seconds: float


async def seed(store: Store, count: int) -> None:
    """``count`` active orders at the listing upstream, expiring in 20 minutes."""
    expires = iso(datetime.now(UTC) + timedelta(minutes=20))
    async with store.transaction() as conn:
        await conn.executemany("INSERT INTO users (id, balance) VALUES (?, 0)", [(u,) for u in range(1, BUYERS + 1)])
    for start in range(0, count, CHUNK):
        chunk = range(start, min(start + CHUNK, count))
        rows = [(1 + i % BUYERS, f"seed:{i}", OrderStatus.ACTIVE, f"a{i}", expires) for i in chunk]
        async with store.transaction() as conn:
            await conn.executemany(
                "INSERT INTO orders (user_id, request_key, status, provider, upstream_id, phone, country, service,"
                " price, expires_at) VALUES (?, ?, ?, 'lister', ?, '+10000000000', 'US', 'whatsapp', 50, ?)",
                rows,
            )


def tracker(store: Store, upstream: Listing, settings: Settings, name: str) -> Tracker:
    """A replica's poller as ``bot/services.py`` builds it: its leases under ``name``, the guarded upstream."""
    guarded = GuardedProvider(upstream, rate=settings.upstream_rate_per_second, failures=100, cooldown=1)
    catalog = Catalog([guarded])
    leases = Leases(store, name, settings.lease_seconds)
    orders = OrderService(
        store, catalog, Pricing(settings), timedelta(minutes=20),
        policy=RefundPolicy(store, catalog), limits=Limits(), leases=leases,
    )  # fmt: skip
    return Tracker(orders, OrderActions(orders), settings.poll_concurrency)


async def claim(poller: Tracker) -> float:
    """Seconds of one lease claim (beat, renew, take or shed: one write transaction), as a run does it every
    third of LEASE_SECONDS."""
    assert poller.leases is not None
    started = time.perf_counter()
    await poller.leases.claim()
    return time.perf_counter() - started


async def cycle(poller: Tracker, interval: float) -> Cycle:
    """One poll run and the undelivered-order read that follows it in ``Jobs.poll``."""
    started = time.perf_counter()
    run = await poller.poll_run(interval)
    await poller.undelivered()
    return Cycle(run.orders, time.perf_counter() - started)


async def leases_held(store: Store) -> int:
    """How many distinct replicas hold order leases now (0: this build does not lease orders)."""
    async with store.read() as conn, conn.execute("SELECT count(DISTINCT lease_owner) FROM orders") as cur:
        return int((await cur.fetchone())[0])


async def forget_leases(store: Store) -> None:
    """Free every order lease and forget the replicas: the next replicas start from a clean slate."""
    async with store.transaction() as conn:
        await conn.execute("UPDATE orders SET lease_owner = NULL, lease_until = NULL")
        await conn.execute("DELETE FROM replicas")


async def measure(url: str, count: int, settings: Settings) -> dict[str, object]:
    """Seed ``count`` orders at ``url`` (an empty, migrated database); one replica's cycle, then two's."""
    interval = settings.poll_interval_seconds
    upstream = Listing(count)
    stores: list[PostgresDatabase] = []
    try:
        for _ in range(3):
            stores.append(await PostgresDatabase.open(url, pool_size=settings.database_pool_size))
        started = time.perf_counter()
        await seed(stores[0], count)
        seeded = time.perf_counter() - started
        one = tracker(stores[0], upstream, settings, "bench-one")
        await cycle(one, interval)  # the first run takes every lease; the next ones poll what they hold
        alone, alone_claim = await cycle(one, interval), await claim(one)
        await forget_leases(stores[0])
        pair = [tracker(store, upstream, settings, f"bench-{n}") for n, store in enumerate(stores[1:])]
        for poller in pair + pair:  # both live, then each takes (or gives up) its share: as after a few runs
            await claim(poller)
        steady = [await cycle(poller, interval) for poller in pair]
        claims = [await claim(poller) for poller in pair]
        owners = await leases_held(stores[1])
    finally:
        for store in stores:
            await store.close()
    return {
        "orders": count,
        "seed_s": f"{seeded:.1f}",
        "interval_s": interval,
        "lease_s": settings.lease_seconds,
        "one_replica_s": f"{alone.seconds:.2f}",
        "one_replica_polled": alone.polled,
        "one_replica_claim_s": f"{alone_claim:.2f}",
        "one_replica_ratio_to_interval": f"{alone.seconds / interval:.2f} (goal ≤ 1.0)",
        "two_replicas_s": "/".join(f"{c.seconds:.2f}" for c in steady),
        "two_replicas_polled": "/".join(str(c.polled) for c in steady),
        "two_replicas_claim_s": "/".join(f"{seconds:.2f}" for seconds in claims),
        "two_replicas_ratio_to_interval": "/".join(f"{c.seconds / interval:.2f}" for c in steady) + " (goal ≤ 1.0)",
        "lease_holders": owners,
    }
