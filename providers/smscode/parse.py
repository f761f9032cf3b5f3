"""SMSCode answers (``data`` objects) and error table, per ``../shared/providers/003_cf85d0e735d76252.txt``.

Reads answers into :mod:`providers.base` types; :func:`raise_for` maps ``error.code`` strings and HTTP
statuses onto :mod:`providers.errors`. The field-name assumptions are in :mod:`providers.smscode.client`.
"""

from __future__ import annotations

import logging

import pycountry

from providers import errors
from providers.base import Balance, Offer, Purchase, Sms, Status, UpstreamState
from providers.normalize import country_code, service_slug
from providers.parsing import currency_of, first, minor, parse_time, raise_error, scalar, to_balance, whole

log = logging.getLogger(__name__)

NAME = "smscode"
CURRENCY = "IDR"

BY_CODE: dict[str, type[errors.ProviderError]] = {
    "UNAUTHORIZED": errors.Unauthorized,
    "INSUFFICIENT_BALANCE": errors.ProviderBalanceLow,
    "PRODUCT_UNAVAILABLE": errors.OutOfStock,
    "ORDER_NOT_FOUND": errors.OrderNotFound,
    "RATE_LIMITED": errors.RateLimited,
}
BY_STATUS = errors.status_errors(401, 403, 429)  # the document names no other status
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


def raise_for(status: int, body: object, *, secret: str = "", path: str = "") -> None:
    """Raise the typed error for an SMSCode answer, by ``error.code`` first and HTTP status second;
    quiet on a success. ``secret`` is scrubbed from messages."""
    envelope = body if isinstance(body, dict) else {}
    if status < 400 and envelope.get("success") is not False:
        return
    error = envelope.get("error")
    code = error.get("code") if isinstance(error, dict) else error
    code = code.strip() if isinstance(code, str) and code.strip() else None
    message = error.get("message") if isinstance(error, dict) else None
    kind = BY_CODE.get((code or "").upper()) or BY_STATUS.get(status)
    raise_error(kind, status, message, secret=secret, provider=NAME, code=code)


def country_query(code: str) -> str:
    """Our ISO alpha-2 as the catalog's ``country`` filter spells it: ``"ID"`` -> ``"indonesia"``."""
    found = pycountry.countries.get(alpha_2=code.strip().upper())
    if found is None:
        return code.strip().lower()
    name = getattr(found, "common_name", None) or found.name
    return name.split(",")[0].strip().lower()


def _label(product: dict, keys: tuple[str, ...]) -> str | None:
    value = first(product, *keys)
    return scalar(first(value, *_NAME_KEYS) if isinstance(value, dict) else value)


def product_offer(product: object) -> Offer | None:
    """One catalog product as an Offer; None (logged at debug) when it cannot be sold through us."""
    if not isinstance(product, dict):
        log.debug("%s: catalog entry is not an object, skipped", NAME)
        return None
    product_id = scalar(first(product, "id", "product_id", "productId"))
    country, platform = _label(product, _COUNTRY_KEYS), _label(product, _PLATFORM_KEYS)
    if product_id is None:
        log.debug("%s: catalog product without an id, skipped", NAME)
        return None
    if country is None or platform is None:
        log.debug("%s: product %s names no country or platform, skipped", NAME, product_id)
        return None
    return Offer(
        provider=NAME,
        service=service_slug(platform),
        country=country_code(country),
        cost=minor(first(product, "price", "cost"), CURRENCY),
        currency=CURRENCY,
        stock=whole(first(product, "stock", "available", "count")),
        product_id=product_id,
    )


def purchase(data: object) -> Purchase:
    """``POST /orders`` data; any unreadable success is UnclearResult (the money may be spent)."""
    if not isinstance(data, dict):
        raise errors.UnclearResult("order answer has no data object", provider=NAME)
    order_id = scalar(first(data, "order_id", "id", "orderId"))
    phone = scalar(first(data, "phone_number", "phone", "number"))
    if order_id is None or phone is None:
        raise errors.UnclearResult("order answer lacks an order id or phone number", provider=NAME)
    cost = minor(first(data, "price", "cost"), CURRENCY)
    return Purchase(upstream_id=order_id, phone=phone, expires_at=parse_time(data.get("expires_at")), cost=cost)


def status(data: object) -> Status:
    """``GET /orders/{id}`` data: the state and the one code the order holds now (the latest)."""
    if not isinstance(data, dict):
        raise errors.BadResponse("order answer has no data object", provider=NAME)
    word = data.get("status")
    if not isinstance(word, str) or not word:
        raise errors.BadResponse("order answer has no status", provider=NAME)
    code = scalar(first(data, "otp_code", "otp", "code"))
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


def balance(data: object) -> Balance:
    """``GET /balance`` data: whole rupiah (or minor units of the currency the answer names)."""
    holder = data if isinstance(data, dict) else {}
    return to_balance(holder.get("balance"), currency_of(holder.get("currency"), CURRENCY), provider=NAME)
