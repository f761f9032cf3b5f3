"""Popular services: the shop's own best sellers of the last 7 days, then a default list, so that a new
shop (or a quiet week) still shows the services people come for. Only services on sale now are listed."""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from storage import sales
from storage.backends import Store
from storage.timestamps import iso

#: what people buy numbers for most, in that order: the list of a shop with no sales yet
DEFAULT_POPULAR: tuple[str, ...] = (
    "whatsapp",
    "telegram",
    "google",
    "openai",
    "instagram",
    "facebook",
    "tiktok",
    "amazon",
    "microsoft",
    "discord",
    "apple",
    "viber",
)
#: the sales that rank a service
WINDOW = timedelta(days=7)
#: how many services the list shows
LIMIT = 8


def ranked(best_sellers: list[str], on_sale: Collection[str], limit: int = LIMIT) -> list[str]:
    """``best_sellers`` that are on sale, then the default list's, then the rest on sale by name: ``limit``."""
    picked: list[str] = []
    for slug in (*best_sellers, *DEFAULT_POPULAR, *sorted(on_sale)):
        if slug in on_sale and slug not in picked and slug != "other":
            picked.append(slug)
            if len(picked) == limit:
                break
    return picked


class Popular:
    """The 7-day ranking, read from the orders at most once per ``ttl`` seconds (it moves slowly)."""

    def __init__(self, db: Store, ttl: float = 300.0) -> None:
        self.db = db
        self.ttl = ttl
        self._cached: tuple[float, list[str]] | None = None

    async def best_sellers(self) -> list[str]:
        """Services by orders sold in the last 7 days, best first."""
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < self.ttl:
            return self._cached[1]
        async with self.db.read() as conn:
            rows = await sales.ranking(conn, iso(datetime.now(UTC) - WINDOW))
        services = [service for service, _sold in rows]
        self._cached = (now, services)
        return services

    def forget(self) -> None:
        """Read the ranking anew at the next call (tests, or after the operator changed the catalog)."""
        self._cached = None

    async def services(self, on_sale: Collection[str], limit: int = LIMIT) -> list[str]:
        return ranked(await self.best_sellers(), on_sale, limit)
