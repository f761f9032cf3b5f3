"""The catalog: cached per upstream, refreshed behind the reader, stale kept for a bounded time."""

from __future__ import annotations

import asyncio

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
