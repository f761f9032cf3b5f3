"""Adapter for iSMScode (REST, ``/api/v3``), per ``shared/providers/002_c32fead30943692c.txt``.

The document names four endpoints only: ``GET /countries``, ``GET /services``,
``POST /numbers/request`` and ``GET /numbers/:number_id/sms``. Assumptions where it is silent:

* Prices and stock are not published, so offers carry ``cost=None`` and ``stock=None`` in USD.
* The number object may spell its id ``id`` / ``number_id`` / ``order_id`` and its phone
  ``phone`` / ``number`` / ``phone_number``; an optional ``price`` / ``cost`` (undocumented) is
  read as a USD amount into ``Purchase.cost``. ``expires_at`` is ISO 8601; a naive time is UTC,
  an unreadable one becomes ``None`` (the number is still ours).
* The error table gives HTTP 404 as ``no_numbers_available``, i.e. for requesting a number: a 404 on
  ``POST /numbers/request`` is OutOfStock whatever its code (or with no JSON at all). The document
  never says how an unknown number id is answered: on ``GET /numbers/:id/sms`` a 404 (or the code
  ``not_found``) is assumed to mean that and maps to OrderNotFound there only.
* ``POST /numbers/request`` spends money: it is "not sold" only on the table's refusals (400, 401,
  402, 404, 429 and their codes). Any 5xx, a timeout after sending, or an error the table does not
  know (a ``status: error`` in a 200, a 418) is UnclearResult (:mod:`providers.http`).
* Each SMS is ``{"from", "text", "received_at"}``; the upstream extracts no code.
* There is no status, cancel or balance endpoint: state is only WAITING / RECEIVED, ``cancel`` is
  a no-op (the number lapses at its expiry), ``balance`` raises InvalidRequest ``unsupported``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from providers.base import Balance, Offer, Purchase, Sms, Status, UpstreamState
from providers.errors import (
    BadResponse,
    InvalidRequest,
    OrderNotFound,
    OutOfStock,
    ProviderBalanceLow,
    ProviderError,
    RateLimited,
    Unauthorized,
    Unavailable,
    UnclearResult,
)
from providers.http import HttpProvider, paid_outcome
from providers.money import to_minor

log = logging.getLogger(__name__)

NAME = "ismscode"
CURRENCY = "USD"

_BY_CODE: dict[str, type[ProviderError]] = {
    "invalid_service": InvalidRequest,
    "invalid_country": InvalidRequest,
    "unauthorized": Unauthorized,
    "insufficient_balance": ProviderBalanceLow,
    "no_numbers_available": OutOfStock,
    "rate_limit_exceeded": RateLimited,
}
#: the error table's statuses, for an answer without a known code
_BY_STATUS: dict[int, type[ProviderError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Unauthorized,
    402: ProviderBalanceLow,
    404: OutOfStock,  # the table: 404 no_numbers_available
    429: RateLimited,
}
REQUEST_PATH = "/numbers/request"


def _raise_for(status: int, body: object, *, secret: str = "", requesting: bool = False) -> None:
    """Raise the typed error for an iSMScode answer; return quietly when it is a success.

    Maps by string code first, HTTP status second; ``secret`` is scrubbed from upstream messages.
    ``requesting`` is true for ``POST /numbers/request``, where the table's 404 means out of stock;
    elsewhere (the SMS of a number) a 404 or ``not_found`` means the number is unknown.
    """
    is_error = status >= 400 or (isinstance(body, dict) and body.get("status") == "error")
    if not is_error:
        return
    code = body.get("code") if isinstance(body, dict) else None
    code = code if isinstance(code, str) and code else None
    message = body.get("message") if isinstance(body, dict) else None
    text = f"HTTP {status}: {message}" if isinstance(message, str) and message else f"HTTP {status}"
    if secret:
        text = text.replace(secret, "***")
    error = _BY_CODE.get(code or "")
    if error is None and not requesting and (status == 404 or code == "not_found"):
        error = OrderNotFound
    error = error or _BY_STATUS.get(status)
    if error is None and status >= 500:
        error = Unavailable
    if error is None:
        raise BadResponse(f"unknown error answer ({text[:200]})", provider=NAME, code=code)
    raise error(text[:300], provider=NAME, code=code)


def _first(mapping: dict[str, object], *keys: str) -> object:
    return next((mapping[k] for k in keys if mapping.get(k) not in (None, "")), None)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        log.warning("%s: unreadable timestamp %r", NAME, value[:40])
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ISMSCodeProvider(HttpProvider):
    """iSMScode: numbers by ISO country and service slug; see the module docstring for assumptions."""

    name = NAME
    can_cancel = False  # no cancel endpoint: a number once bought is paid for

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://ismscode.com/api/v3",
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        super().__init__(api_key, base_url, headers=headers, transport=transport, timeout=timeout)

    async def _call(self, method: str, path: str, *, paid: bool = False, **kwargs: object) -> dict:
        status, body = await self._request(method, path, paid=paid, **kwargs)
        with paid_outcome(NAME, f"{method} {path}", paid=paid):  # paid: only a known refusal is "not sold"
            _raise_for(status, body, secret=self._key, requesting=path == REQUEST_PATH)
            if not isinstance(body, dict):
                raise BadResponse(f"{method} {path}: expected a JSON object", provider=NAME)
        return body

    async def offers(self, country: str | None = None) -> list[Offer]:
        """Every (service, country) pair the upstream lists; no price or stock is published."""
        countries_raw = (await self._call("GET", "/countries")).get("countries")
        services_raw = (await self._call("GET", "/services")).get("services")
        if not isinstance(countries_raw, list) or not isinstance(services_raw, list):
            raise BadResponse("countries/services are not lists", provider=NAME)
        countries = [c.get("code") if isinstance(c, dict) else c for c in countries_raw]
        services = [s.get("slug") or s.get("code") if isinstance(s, dict) else s for s in services_raw]
        codes = list(dict.fromkeys(c.strip().upper() for c in countries if isinstance(c, str) and c.strip()))
        slugs = list(dict.fromkeys(s.strip().lower() for s in services if isinstance(s, str) and s.strip()))
        if country is not None:
            codes = [c for c in codes if c == country.upper()]
        return [
            Offer(provider=NAME, service=s, country=c, cost=None, currency=CURRENCY, stock=None)
            for c in codes
            for s in slugs
        ]

    async def buy(self, offer: Offer) -> Purchase:
        """``POST /numbers/request``; the id/phone spellings accepted are in the module docstring."""
        payload = {"country": offer.country.upper(), "service": offer.service.lower()}
        body = await self._call("POST", REQUEST_PATH, paid=True, json=payload)
        number = body.get("number")
        if not isinstance(number, dict):
            raise UnclearResult("purchase answer has no number object", provider=NAME)
        upstream_id = _first(number, "id", "number_id", "order_id")
        phone = _first(number, "phone", "number", "phone_number")
        if not isinstance(upstream_id, str | int) or not isinstance(phone, str | int):
            raise UnclearResult("purchase answer lacks a number id or phone", provider=NAME)
        price = _first(number, "price", "cost")
        try:
            cost = to_minor(price, CURRENCY) if price is not None else None
        except ValueError:
            log.warning("%s: unreadable price on number %s", NAME, upstream_id)
            cost = None
        log.info("%s: bought number %s (%s/%s)", NAME, upstream_id, offer.service, offer.country)
        return Purchase(
            upstream_id=str(upstream_id),
            phone=str(phone),
            expires_at=_parse_time(number.get("expires_at")),
            cost=cost,
        )

    async def check(self, upstream_id: str) -> Status:
        """``GET /numbers/:id/sms``: WAITING with no SMS, RECEIVED otherwise (no expiry is reported)."""
        body = await self._call("GET", f"/numbers/{quote(upstream_id, safe='')}/sms")
        raw = body.get("sms") or []
        if not isinstance(raw, list):
            raise BadResponse("sms is not a list", provider=NAME)
        sms = tuple(
            Sms(
                text=str(item.get("text") or item.get("message") or ""),
                sender=str(item["from"]) if item.get("from") is not None else None,
                received_at=_parse_time(item.get("received_at")),
            )
            for item in raw
            if isinstance(item, dict)
        )
        return Status(state=UpstreamState.RECEIVED if sms else UpstreamState.WAITING, sms=sms)

    async def cancel(self, upstream_id: str) -> None:
        """No-op: iSMScode has no cancel endpoint; the reserved number lapses at its expiry."""
        log.info("%s: no cancel endpoint; number %s lapses at expiry", NAME, upstream_id)

    async def balance(self) -> Balance:
        """Unsupported: the document names no balance endpoint. Raises InvalidRequest ``unsupported``."""
        raise InvalidRequest("iSMScode publishes no balance endpoint", provider=NAME, code="unsupported")
