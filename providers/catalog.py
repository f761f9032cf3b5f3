"""One catalog over every enabled upstream: their offers, cached per upstream, refreshed in the background.

Users never wait on a slow upstream once a catalog is cached: a read serves the cache and, when it
is older than ``ttl``, starts a refresh behind it. A failing upstream keeps its last good offers,
marked stale, for ``stale_after`` seconds; after that it drops out until it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from providers.base import Offer, Provider
from providers.errors import ProviderError, Unavailable

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    offers: list[Offer]
    fetched_at: float
    failed_at: float | None = None


class Catalog:
    def __init__(self, providers: list[Provider], ttl: float = 60.0, stale_after: float = 900.0) -> None:
        self.providers: dict[str, Provider] = {p.name: p for p in providers}
        self.ttl = ttl
        self.stale_after = stale_after
        self._cache: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {name: asyncio.Lock() for name in self.providers}
        self._refreshing: dict[str, asyncio.Task[None]] = {}

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

    async def _provider_offers(self, name: str) -> list[Offer]:
        provider = self.providers[name]
        if not getattr(provider, "healthy", True):
            return []
        entry = self._cache.get(name)
        if entry is None:
            await self.refresh(name)
            entry = self._cache.get(name)
            if entry is None:
                return []
        age = time.monotonic() - entry.fetched_at
        if age >= self.ttl:
            self._refresh_behind(name)
        if entry.failed_at is not None and age >= self.stale_after:
            return []
        return entry.offers

    async def offers(self, country: str | None = None, service: str | None = None) -> list[Offer]:
        results = await asyncio.gather(*(self._provider_offers(name) for name in self.providers))
        return [
            offer
            for offers in results
            for offer in offers
            if (country is None or offer.country == country) and (service is None or offer.service == service)
        ]

    async def close(self) -> None:
        for task in self._refreshing.values():
            task.cancel()
        for provider in self.providers.values():
            await provider.close()
