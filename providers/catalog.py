"""One catalog over every enabled upstream: their offers, cached per upstream, refreshed in the background.

Users never wait on a slow upstream once a catalog is cached: a read serves the cache and, when it
is older than ``ttl``, starts a refresh behind it. A failing upstream keeps its last good offers,
marked stale, for ``stale_after`` seconds; after that it drops out until it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from providers.base import Offer, Provider
from providers.errors import ProviderError, Unavailable

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    """One upstream's offers as last fetched, indexed when fetched so that a tap looks them up."""

    offers: list[Offer]
    fetched_at: float
    failed_at: float | None = None
    by_country: dict[str, list[Offer]] = field(init=False)
    by_pair: dict[tuple[str, str], list[Offer]] = field(init=False)  # (country, service)
    in_stock: frozenset[str] = field(init=False)  # countries with an offer in stock

    def __post_init__(self) -> None:
        self.by_country, self.by_pair = {}, {}
        for offer in self.offers:
            self.by_country.setdefault(offer.country, []).append(offer)
            self.by_pair.setdefault((offer.country, offer.service), []).append(offer)
        self.in_stock = frozenset(o.country for o in self.offers if o.stock is None or o.stock > 0)

    def select(self, country: str | None, service: str | None) -> list[Offer]:
        """The offers of ``country`` and ``service`` (either None: any), in the upstream's order."""
        if country is None:
            return self.offers if service is None else [o for o in self.offers if o.service == service]
        if service is None:
            return self.by_country.get(country, [])
        return self.by_pair.get((country, service), [])


class Catalog:
    def __init__(self, providers: list[Provider], ttl: float = 60.0, stale_after: float = 900.0) -> None:
        self.providers: dict[str, Provider] = {p.name: p for p in providers}
        self.ttl = ttl
        self.stale_after = stale_after
        self._cache: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {name: asyncio.Lock() for name in self.providers}
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    def share_rates(self, replicas: int) -> None:
        """Each guarded upstream keeps to its part of its rate among ``replicas`` live replicas."""
        for provider in self.providers.values():
            if share := getattr(provider, "share", None):
                share(replicas)

    def get(self, name: str) -> Provider:
        """The provider by name; Unavailable when it is no longer configured."""
        try:
            return self.providers[name]
        except KeyError:
            raise Unavailable("not configured", provider=name) from None

    def stale(self, name: str) -> bool:
        entry = self._cache.get(name)
        return entry is not None and entry.failed_at is not None

    async def refresh(self, name: str) -> None:
        """Fetch one upstream's offers now; on failure keep the last good ones, marked stale."""
        provider = self.providers[name]
        async with self._locks[name]:
            try:
                offers = await provider.offers()
            except ProviderError as exc:
                entry = self._cache.get(name)
                if entry is not None:
                    entry.failed_at = entry.failed_at or time.monotonic()
                logger.warning("catalog of %s not refreshed: %s", name, exc)
                return
            self._cache[name] = _Entry(offers, time.monotonic())

    async def refresh_all(self) -> None:
        """Refresh every upstream whose cache is older than the TTL (the scheduled job)."""
        now = time.monotonic()
        due = [n for n in self.providers if (e := self._cache.get(n)) is None or now - e.fetched_at >= self.ttl]
        await asyncio.gather(*(self.refresh(n) for n in due))

    def _refresh_behind(self, name: str) -> None:
        task = self._refreshing.get(name)
        if task is None or task.done():
            self._refreshing[name] = asyncio.create_task(self.refresh(name))

    async def _served(self, name: str) -> _Entry | None:
        """The upstream's cached offers as a read may serve them: fetched first if never cached, a refresh
        started behind the reader once older than the TTL, None while unhealthy or stale for too long."""
        provider = self.providers[name]
        if not getattr(provider, "healthy", True):
            return None
        entry = self._cache.get(name)
        if entry is None:
            await self.refresh(name)
            entry = self._cache.get(name)
            if entry is None:
                return None
        age = time.monotonic() - entry.fetched_at
        if age >= self.ttl:
            self._refresh_behind(name)
        if entry.failed_at is not None and age >= self.stale_after:
            return None
        return entry

    async def _entries(self) -> list[_Entry]:
        entries = await asyncio.gather(*(self._served(name) for name in self.providers))
        return [entry for entry in entries if entry is not None]

    async def offers(self, country: str | None = None, service: str | None = None) -> list[Offer]:
        """Every upstream's offers of ``country`` and ``service`` (either None: any), looked up in the index."""
        return [offer for entry in await self._entries() for offer in entry.select(country, service)]

    async def countries(self) -> set[str]:
        """The countries with an offer in stock at any upstream."""
        return set().union(*(entry.in_stock for entry in await self._entries()))

    async def close(self) -> None:
        for task in self._refreshing.values():
            task.cancel()
        for provider in self.providers.values():
            await provider.close()
