"""Runtime price controls: the markup and per (service, country) overrides, persisted and live at once."""

from __future__ import annotations

import logging
import re
from decimal import Decimal

import pycountry

from bot.money.pricing import Pricing
from providers.money import MONEY_BOUND
from providers.normalize import ALIASES, country_code, service_slug
from storage import admin_log, prices
from storage import config as config_q
from storage.backends import Store

logger = logging.getLogger(__name__)

MARKUP_KEY = "markup_percent"
MAX_MARKUP = Decimal(1000)
#: a markup as typed: 0 to 1000 with at most two decimals and an optional ``%`` (no sign, exponent, nan)
_MARKUP = re.compile(r"[0-9]{1,4}(?:[.,][0-9]{0,2})?%?", re.ASCII)
#: a service as typed: the catalog's slugs are at most 24 letters, digits and ``_`` (``-`` reads as ``_``)
_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,23}", re.ASCII)
#: a country as typed: an ISO code (``US``, ``USA``) or a one-word English name (``indonesia``)
_COUNTRY = re.compile(r"[A-Za-z]{2,32}", re.ASCII)


def parse_markup(text: str) -> Decimal:
    """``"35"`` / ``"12.5"`` -> Decimal; ValueError outside 0..1000, for more than two decimals, or for
    anything else."""
    cleaned = text.strip()
    if not _MARKUP.fullmatch(cleaned):
        raise ValueError(text)
    value = Decimal(cleaned.rstrip("%").replace(",", "."))  # at most 7 digits: exact
    if not 0 <= value <= MAX_MARKUP:
        raise ValueError(text)
    return Decimal(int(value)) if value == value.to_integral_value() else value.normalize()


def parse_key(service: str, country: str) -> tuple[str, str]:
    """What ``/price`` names: ``("wa", "us")`` -> ``("whatsapp", "US")``. ValueError for a service
    that is not a catalog slug (at most 24 letters, digits, ``_`` or ``-``), or a country that is not
    an ISO 3166 country."""
    if not _SERVICE.fullmatch(service.strip()) or not _COUNTRY.fullmatch(country.strip()):
        raise ValueError(f"not a service and a country: {service!r} {country!r}")
    code = country_code(country.strip())
    if pycountry.countries.get(alpha_2=code) is None and code not in ALIASES.values():
        raise ValueError(f"not a country: {country!r}")
    return service_slug(service), code


class PriceAdmin:
    def __init__(self, db: Store, pricing: Pricing) -> None:
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
        """Set (``price`` in minor units) or remove (None) an override; returns the normalized key.

        ValueError for a price that is not 1 to ``MONEY_BOUND`` minor units (the handler holds it to
        ``MAX_AMOUNT``) and for a key :func:`parse_key` refuses.
        """
        if price is not None and (
            not isinstance(price, int) or isinstance(price, bool) or not 0 < price <= MONEY_BOUND
        ):
            raise ValueError(price)
        key = parse_key(service, country)
        async with self.db.transaction() as conn:
            await prices.set_override(conn, key[0], key[1], price, admin_id)
            await admin_log.record(conn, admin_id, "price", f"{key[0]} {key[1]} {price if price else 'off'}")
        if price is None:
            self.pricing.overrides.pop(key, None)
        else:
            self.pricing.overrides[key] = price
        logger.info("admin %d set the price of %s/%s to %s", admin_id, key[0], key[1], price)
        return key
