"""The catalog: cached per upstream, refreshed behind the reader, stale kept for a bounded time."""

from __future__ import annotations

import asyncio
import random
from itertools import product

from providers.base import Offer
from providers.catalog import Catalog
from providers.errors import Unavailable
from tests.test_guard import Flaky


async def test_second_read_is_served_from_cache() -> None:
    inner = Flaky()
    catalog = Catalog([inner], ttl=60)
    assert await catalog.offers() == await catalog.offers()
    assert inner.calls == ["offers"]


async def test_failing_upstream_keeps_last_offers_marked_stale_until_bounded_age() -> None:
    inner = Flaky()
    catalog = Catalog([inner], ttl=0.01, stale_after=0.2)
    first = await catalog.offers()
    await asyncio.sleep(0.02)
    inner.script = [Unavailable("down")] * 10
    await catalog.refresh("flaky")
    assert catalog.stale("flaky")
    assert await catalog.offers() == first  # last good catalog still served
    await asyncio.sleep(0.25)
    assert await catalog.offers() == []  # too old: dropped
    inner.script = []
    await catalog.refresh("flaky")
    assert not catalog.stale("flaky") and await catalog.offers() == first


async def test_filters_by_country_and_service() -> None:
    class Two(Flaky):
        async def offers(self, country: str | None = None) -> list[Offer]:
            return [Offer("flaky", "whatsapp", "US", 1, "USD", 1), Offer("flaky", "telegram", "ID", 1, "USD", 1)]

    catalog = Catalog([Two()])
    assert [o.service for o in await catalog.offers(country="ID")] == ["telegram"]
    assert [o.country for o in await catalog.offers(service="whatsapp")] == ["US"]


class Stocked(Flaky):
    """An upstream of ``name`` selling a shuffled mix of countries and services, some out of stock; each
    fetch may answer another list (``rounds``)."""

    def __init__(self, name: str, seed: int) -> None:
        super().__init__()
        self.name = name
        self.rounds: list[list[Offer]] = [self._mix(seed), self._mix(seed + 100)]

    def _mix(self, seed: int) -> list[Offer]:
        rng = random.Random(seed)
        pairs = [(c, s) for c in ("US", "ID", "GB", "KZ") for s in ("whatsapp", "telegram", "google")]
        stocks = [None, 0, 1, 50]
        return [
            Offer(self.name, s, c, rng.randint(1, 99), "USD", rng.choice(stocks)) for c, s in rng.choices(pairs, k=40)
        ]

    async def offers(self, country: str | None = None) -> list[Offer]:
        self._next("offers")
        return self.rounds[min(len(self.calls) - 1, len(self.rounds) - 1)]


def scanned(offers: list[Offer], country: str | None, service: str | None) -> list[Offer]:
    """What the catalog answered before it was indexed: a scan of every offer in order."""
    return [
        o for o in offers if (country is None or o.country == country) and (service is None or o.service == service)
    ]


QUERIES = list(product((None, "US", "ID", "KZ", "FR"), (None, "whatsapp", "google", "viber")))


async def test_lookups_answer_what_a_scan_of_every_offer_did() -> None:
    upstreams = [Stocked("a", 1), Stocked("b", 2), Stocked("c", 3)]
    catalog = Catalog(upstreams)
    everything = await catalog.offers()
    assert everything == [o for up in upstreams for o in up.rounds[0]]
    for country, service in QUERIES:
        assert await catalog.offers(country, service) == scanned(everything, country, service), (country, service)
    assert await catalog.countries() == {o.country for o in everything if o.stock is None or o.stock > 0}


async def test_lookups_follow_a_refresh_behind_the_reader_and_staleness() -> None:
    fresh, failing = Stocked("fresh", 1), Stocked("failing", 2)
    catalog = Catalog([fresh, failing], ttl=0.01, stale_after=0.5)
    first = await catalog.offers()
    await asyncio.sleep(0.02)
    failing.script = [Unavailable("down")] * 10_000
    assert await catalog.offers("US") == scanned(first, "US", None)  # served from cache, refreshes started
    await asyncio.sleep(0)  # let the refreshes behind the reader run
    await asyncio.sleep(0)
    assert catalog.stale("failing") and not catalog.stale("fresh")
    now = [*fresh.rounds[1], *failing.rounds[0]]  # the new list, and the last good one kept while stale
    for country, service in QUERIES:
        assert await catalog.offers(country, service) == scanned(now, country, service), (country, service)
    await asyncio.sleep(0.55)
    for country, service in QUERIES:  # the failing upstream's offers are now too old: dropped
        assert await catalog.offers(country, service) == scanned(fresh.rounds[1], country, service)
    assert await catalog.countries() == {o.country for o in fresh.rounds[1] if o.stock is None or o.stock > 0}
