"""iSMScode answers and error table, per ``../shared/providers/002_c32fead30943692c.txt``.

Reads answers into :mod:`providers.base` types; :func:`raise_for` maps the document's error table
(string codes, HTTP statuses) onto :mod:`providers.errors`. The assumptions where the document is
silent are in :mod:`providers.ismscode.client`.
"""

from __future__ import annotations

from providers import errors
from providers.base import Offer, Purchase, Sms, Status, UpstreamState
from providers.parsing import first, minor, parse_time, raise_error, scalar

NAME = "ismscode"
CURRENCY = "USD"
REQUEST_PATH = "/numbers/request"

BY_CODE: dict[str, type[errors.ProviderError]] = {
    "invalid_service": errors.InvalidRequest,
    "invalid_country": errors.InvalidRequest,
    "unauthorized": errors.Unauthorized,
    "insufficient_balance": errors.ProviderBalanceLow,
    "no_numbers_available": errors.OutOfStock,
    "rate_limit_exceeded": errors.RateLimited,
}
#: the error table's statuses, for an answer without a known code
BY_STATUS: dict[int, type[errors.ProviderError]] = {
    400: errors.InvalidRequest,
    401: errors.Unauthorized,
    403: errors.Unauthorized,
    402: errors.ProviderBalanceLow,
    404: errors.OutOfStock,  # the table: 404 no_numbers_available
    429: errors.RateLimited,
}


def raise_for(status: int, body: object, *, secret: str = "", path: str = "") -> None:
    """Raise the typed error for an iSMScode answer, by string code first and HTTP status second;
    quiet on a success. On :data:`REQUEST_PATH` the table's 404 means out of stock; elsewhere (the SMS
    of a number) a 404 or ``not_found`` means the number is unknown. ``secret`` is scrubbed."""
    envelope = body if isinstance(body, dict) else {}
    if status < 400 and envelope.get("status") != "error":
        return
    code = envelope.get("code")
    code = code if isinstance(code, str) and code else None
    kind = BY_CODE.get(code or "")
    if kind is None and path != REQUEST_PATH and (status == 404 or code == "not_found"):
        kind = errors.OrderNotFound
    kind = kind or BY_STATUS.get(status)
    raise_error(kind, status, envelope.get("message"), secret=secret, provider=NAME, code=code)


def offers(countries: object, services: object, country: str | None) -> list[Offer]:
    """Every (service, country) pair listed, in ``country`` only when given; no price or stock."""
    if not isinstance(countries, list) or not isinstance(services, list):
        raise errors.BadResponse("countries/services are not lists", provider=NAME)
    country_codes = [c.get("code") if isinstance(c, dict) else c for c in countries]
    service_codes = [s.get("slug") or s.get("code") if isinstance(s, dict) else s for s in services]
    codes = list(dict.fromkeys(c.strip().upper() for c in country_codes if isinstance(c, str) and c.strip()))
    slugs = list(dict.fromkeys(s.strip().lower() for s in service_codes if isinstance(s, str) and s.strip()))
    if country is not None:
        codes = [c for c in codes if c == country.upper()]
    return [
        Offer(provider=NAME, service=s, country=c, cost=None, currency=CURRENCY, stock=None)
        for c in codes
        for s in slugs
    ]


def purchase(body: dict[str, object]) -> Purchase:
    """The ``number`` object of ``POST /numbers/request``; an unreadable one is UnclearResult."""
    number = body.get("number")
    if not isinstance(number, dict):
        raise errors.UnclearResult("purchase answer has no number object", provider=NAME)
    upstream_id = scalar(first(number, "id", "number_id", "order_id"))
    phone = scalar(first(number, "phone", "number", "phone_number"))
    if upstream_id is None or phone is None:
        raise errors.UnclearResult("purchase answer lacks a number id or phone", provider=NAME)
    return Purchase(
        upstream_id=upstream_id,
        phone=phone,
        expires_at=parse_time(number.get("expires_at")),
        cost=minor(first(number, "price", "cost"), CURRENCY),
    )


def status(body: dict[str, object]) -> Status:
    """``GET /numbers/:id/sms``: WAITING with no SMS, RECEIVED otherwise (no expiry is reported)."""
    raw = body.get("sms") or []
    if not isinstance(raw, list):
        raise errors.BadResponse("sms is not a list", provider=NAME)
    sms = tuple(
        Sms(
            text=str(item.get("text") or item.get("message") or ""),
            sender=str(item["from"]) if item.get("from") is not None else None,
            received_at=parse_time(item.get("received_at")),
        )
        for item in raw
        if isinstance(item, dict)
    )
    return Status(state=UpstreamState.RECEIVED if sms else UpstreamState.WAITING, sms=sms)
