"""Reading SMSCode answers (``data`` objects) into :mod:`providers.base` types.

Helpers for :mod:`providers.smscode`; the field-name assumptions are listed in that module's docstring.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pycountry

from providers.base import Offer, Purchase, Sms, Status, UpstreamState
from providers.errors import BadResponse, UnclearResult
from providers.money import to_minor
from providers.normalize import country_code, service_slug

log = logging.getLogger(__name__)

NAME = "smscode"
CURRENCY = "IDR"

STATES: dict[str, UpstreamState] = {
    "WAITING": UpstreamState.WAITING,
    "OTP_RECEIVED": UpstreamState.RECEIVED,
    "COMPLETED": UpstreamState.FINISHED,
    "CANCELLED": UpstreamState.CANCELLED,
    "EXPIRED": UpstreamState.EXPIRED,
}
_COUNTRY_KEYS = ("country", "country_name", "country_code")
_PLATFORM_KEYS = ("platform", "platform_name", "service", "service_name")
_NAME_KEYS = ("code", "slug", "name")  # when a country/platform arrives as an object


def first(mapping: dict, *keys: str) -> object:
    """The first of ``keys`` whose value is present and not empty."""
    return next((mapping[k] for k in keys if mapping.get(k) not in (None, "")), None)


def parse_time(value: object) -> datetime | None:
    """ISO 8601 (``Z`` allowed); a naive time is UTC; unreadable -> None with a warning."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        log.warning("%s: unreadable timestamp %r", NAME, value[:40])
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def country_query(code: str) -> str:
    """Our ISO alpha-2 as the catalog's ``country`` filter spells it: ``"ID"`` -> ``"indonesia"``."""
    found = pycountry.countries.get(alpha_2=code.strip().upper())
    if found is None:
        return code.strip().lower()
    name = getattr(found, "common_name", None) or found.name
    return name.split(",")[0].strip().lower()


def _label(product: dict, keys: tuple[str, ...]) -> str | None:
    value = first(product, *keys)
    if isinstance(value, dict):
        value = first(value, *_NAME_KEYS)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) and value.strip() else None


def product_offer(product: object) -> Offer | None:
    """One catalog product as an Offer; None (logged at debug) when it cannot be sold through us."""
    if not isinstance(product, dict):
        log.debug("%s: catalog entry is not an object, skipped", NAME)
        return None
    product_id = first(product, "id", "product_id", "productId")
    country, platform = _label(product, _COUNTRY_KEYS), _label(product, _PLATFORM_KEYS)
    if not isinstance(product_id, str | int) or isinstance(product_id, bool):
        log.debug("%s: catalog product without an id, skipped", NAME)
        return None
    if country is None or platform is None:
        log.debug("%s: product %s names no country or platform, skipped", NAME, product_id)
        return None
    price, cost = first(product, "price", "cost"), None
    if price is not None:
        try:
            cost = to_minor(price, CURRENCY)
        except ValueError:
            log.warning("%s: unreadable price on product %s", NAME, product_id)
    stock = first(product, "stock", "available", "count")
    try:
        stock_count = int(stock) if stock is not None and not isinstance(stock, bool) else None
    except (TypeError, ValueError):
        stock_count = None
    return Offer(
        provider=NAME,
        service=service_slug(platform),
        country=country_code(country),
        cost=cost,
        currency=CURRENCY,
        stock=stock_count,
        product_id=str(product_id),
    )


def purchase(data: object) -> Purchase:
    """``POST /orders`` data; any unreadable success is UnclearResult (the money may be spent)."""
    if not isinstance(data, dict):
        raise UnclearResult("order answer has no data object", provider=NAME)
    order_id = first(data, "order_id", "id", "orderId")
    phone = first(data, "phone_number", "phone", "number")
    if not isinstance(order_id, str | int) or not isinstance(phone, str | int):
        raise UnclearResult("order answer lacks an order id or phone number", provider=NAME)
    price, cost = first(data, "price", "cost"), None
    if price is not None:
        try:
            cost = to_minor(price, CURRENCY)
        except ValueError:
            log.warning("%s: unreadable price on order %s", NAME, order_id)
    return Purchase(
        upstream_id=str(order_id), phone=str(phone), expires_at=parse_time(data.get("expires_at")), cost=cost
    )


def status(data: object) -> Status:
    """``GET /orders/{id}`` data: the state and the one code the order holds now (the latest)."""
    if not isinstance(data, dict):
        raise BadResponse("order answer has no data object", provider=NAME)
    word = data.get("status")
    if not isinstance(word, str) or not word:
        raise BadResponse("order answer has no status", provider=NAME)
    otp = first(data, "otp_code", "otp", "code")
    code = str(otp).strip() if isinstance(otp, str | int) and not isinstance(otp, bool) else None
    state = STATES.get(word.strip().upper())
    if state is None:
        log.warning("%s: unknown order status %r", NAME, word[:40])
        state = UpstreamState.RECEIVED if code else UpstreamState.WAITING
    if not code:
        return Status(state=state)
    text = first(data, "sms", "message", "text", "sms_text")
    received = parse_time(first(data, "received_at", "otp_received_at"))
    sms = Sms(text=text if isinstance(text, str) else f"Code: {code}", code=code, received_at=received)
    return Status(state=state, sms=(sms,))
