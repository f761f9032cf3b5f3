"""One catalog over every enabled upstream: their offers, cached per upstream."""

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


class Catalog:
    """Provider registry plus a TTL cache of each provider's offers.

    A provider whose refresh fails keeps serving its last good offers until they are
    ``stale_after`` seconds old; after that it drops out of the catalog until it answers again.
    """

    def __init__(self, providers: list[Provider], ttl: float = 60.0, stale_after: float = 900.0) -> None:
        self.providers: dict[str, Provider] = {p.name: p for p in providers}
        self.ttl = ttl
        self.stale_after = stale_after
        self._cache: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {name: asyncio.Lock() for name in self.providers}

    def get(self, name: str) -> Provider:
        """The provider by name; Unavailable when it is no longer configured."""
        try:
            return self.providers[name]
        except KeyError:
            raise Unavailable("not configured", provider=name) from None

    async def _provider_offers(self, provider: Provider) -> list[Offer]:
        async with self._locks[provider.name]:
            entry = self._cache.get(provider.name)
            now = time.monotonic()
            if entry and now - entry.fetched_at < self.ttl:
                return entry.offers
            try:
                offers = await provider.offers()
            except ProviderError as exc:
                logger.warning("catalog of %s unavailable: %s", provider.name, exc)
                if entry and now - entry.fetched_at < self.stale_after:
                    return entry.offers
                return []
            self._cache[provider.name] = _Entry(offers, now)
            return offers

    async def offers(self, country: str | None = None, service: str | None = None) -> list[Offer]:
        results = await asyncio.gather(*(self._provider_offers(p) for p in self.providers.values()))
        return [
            offer
            for offers in results
            for offer in offers
            if (country is None or offer.country == country) and (service is None or offer.service == service)
        ]

    def invalidate(self, name: str | None = None) -> None:
        if name is None:
            self._cache.clear()
        else:
            self._cache.pop(name, None)

    async def close(self) -> None:
        for provider in self.providers.values():
            await provider.close()
