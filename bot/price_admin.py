"""Runtime price controls: the markup and per (service, country) overrides, persisted and live at once."""

from __future__ import annotations

import logging
from decimal import Decimal

from bot.pricing import Pricing
from providers.normalize import country_code, service_slug
from storage import admin_log, prices
from storage import config as config_q
from storage.db import Database

logger = logging.getLogger(__name__)

MARKUP_KEY = "markup_percent"
MAX_MARKUP = Decimal(1000)


def parse_markup(text: str) -> Decimal:
    """``"35"`` / ``"12.5"`` -> Decimal; ValueError outside 0..1000 or for anything else."""
    try:
        value = Decimal(text.strip().rstrip("%").replace(",", "."))
    except ArithmeticError as exc:
        raise ValueError(text) from exc
    if not value.is_finite() or not 0 <= value <= MAX_MARKUP:
        raise ValueError(text)
    return Decimal(int(value)) if value == value.to_integral_value() else value


class PriceAdmin:
    def __init__(self, db: Database, pricing: Pricing) -> None:
        self.db = db
        self.pricing = pricing

    async def load(self) -> None:
        """Apply the saved markup and overrides to ``pricing`` (at startup)."""
        async with self.db.read() as conn:
            saved = await config_q.get(conn, MARKUP_KEY)
            self.pricing.overrides = await prices.overrides(conn)
        if saved is not None:
            try:
                self.pricing.markup = parse_markup(saved)
            except ValueError:
                logger.warning("ignoring a bad saved markup %r", saved)

    def overrides(self) -> list[tuple[str, str, int]]:
        return sorted((service, country, price) for (service, country), price in self.pricing.overrides.items())

    async def set_markup(self, admin_id: int, percent: Decimal) -> None:
        if not percent.is_finite() or not 0 <= percent <= MAX_MARKUP:
            raise ValueError(percent)
        async with self.db.transaction() as conn:
            await config_q.put(conn, MARKUP_KEY, str(percent), admin_id)
            await admin_log.record(conn, admin_id, "markup", f"{self.pricing.markup} -> {percent}")
        self.pricing.markup = percent
        logger.info("admin %d set the markup to %s%%", admin_id, percent)

    async def set_price(self, admin_id: int, service: str, country: str, price: int | None) -> tuple[str, str]:
        """Set (``price`` in minor units) or remove (None) an override; returns the normalized key."""
        if price is not None and price <= 0:
            raise ValueError(price)
        key = (service_slug(service), country_code(country))
        async with self.db.transaction() as conn:
            await prices.set_override(conn, key[0], key[1], price, admin_id)
            await admin_log.record(conn, admin_id, "price", f"{key[0]} {key[1]} {price if price else 'off'}")
        if price is None:
            self.pricing.overrides.pop(key, None)
        else:
            self.pricing.overrides[key] = price
        logger.info("admin %d set the price of %s/%s to %s", admin_id, key[0], key[1], price)
        return key
