"""Adapter for SimSmsBox (REST, ``X-API-Key``), per ``shared/providers/001_943acbeb186e1349.txt``.

Assumptions where the document shows no response shape (the test fake follows them):

* Lists come bare or under ``data`` / ``items``, objects bare or under ``data``. Countries carry
  ``code`` / ``countryCode`` / ``iso`` (else ``name``), ISO alpha-2 like the document's ``US`` (buy sends
  ``Offer.country``). Market items: ``service``, ``serviceName``, ``price``, ``stock``, ``currency``
  (USD if absent), optional ``provider``; the cheapest in-stock item over all card kinds wins per
  (service, country), ``product_id`` = ``"<service code>|<cardKind>"``. Without ``country`` every
  country's market is queried, 4 at a time; a failing one is skipped unless all fail.
* ``price`` is per day: each offer comes with ``rent_days=None`` (bought as ``rentDays=1``, cost =
  price) and as 7- and 30-day rentals (cost = price x days).
* Purchase: ``orderId`` / ``id`` / ``order_id``, ``phone`` / ``number`` / ``phoneNumber``, ``expireAt``,
  ``apiBindingKey``, optional ``price`` / ``amount``. ``upstream_id`` is the ``orderId``; the
  ``apiBindingKey`` stays in memory (a secret: never stored, logged or shown).
* check() reads ``/api/sms/record?key=…&format=txt`` unauthenticated, or ``/api/sms/orders/{id}``
  without a key (unknown ``status`` words -> WAITING); both give the latest code only (the bot keeps
  the history). The binding key is a secret: never logged (httpx's URL log is redacted) nor in errors.
* Errors ``{"code", "message"}`` / ``{"error"}``, also in a 2xx with ``success: false``, ``error`` or
  ``code`` 400-599: ``no available platform`` -> OutOfStock, ``insufficient`` / ``balance`` ->
  ProviderBalanceLow (any case), else by status (400, 401/403, 402, 404, 429, 5xx; see _BY_STATUS).
* No cancel endpoint is documented: cancel() is a no-op, the rental lapses at its expiry, the bot
  refunds the user, the operator bears the upstream cost. Codes arrive by themselves during a rental.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime
from urllib.parse import quote

import httpx

from providers import errors
from providers import simsmsbox_parse as p
from providers.base import Balance, Offer, Purchase, Status
from providers.http import HttpProvider, make_client, parse_retry_after
from providers.normalize import country_code

log = logging.getLogger(__name__)

NAME = p.NAME
RENTALS: tuple[int | None, ...] = (None, 7, 30)
MARKET = "/api/sms/shop/market"
_BY_TEXT: tuple[tuple[str, type[errors.ProviderError]], ...] = (
    ("no available platform", errors.OutOfStock),
    ("insufficient", errors.ProviderBalanceLow),
    ("balance", errors.ProviderBalanceLow),
)
_BY_STATUS: dict[int, type[errors.ProviderError]] = {
    400: errors.InvalidRequest,
    401: errors.Unauthorized,
    403: errors.Unauthorized,
    402: errors.ProviderBalanceLow,
    404: errors.OrderNotFound,
    429: errors.RateLimited,
}


def _raise_for(status: int, body: object, *, secret: str = "") -> None:
    """Raise the typed error for a SimSmsBox answer (message/code text first, HTTP status second)."""
    data = body if isinstance(body, dict) else {}
    code, error = data.get("code"), data.get("error")
    if isinstance(code, int) and not isinstance(code, bool) and status < 400 and 400 <= code < 600:
        status = code
    elif status < 400 and data.get("success") is not False and not error:
        return
    if isinstance(error, dict):
        code, error = error.get("code", code), error.get("message")
    message = next((m for m in (data.get("message"), data.get("msg"), error) if isinstance(m, str) and m), "")
    code_text = str(code) if isinstance(code, str | int) and not isinstance(code, bool) and code != "" else None
    text = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if secret:
        text = text.replace(secret, "***")
    haystack = f"{code_text or ''} {message}".lower().replace("_", " ")
    found = next((cls for needle, cls in _BY_TEXT if needle in haystack), None) or _BY_STATUS.get(status)
    found = found or (errors.Unavailable if status >= 500 else errors.BadResponse)  # BadResponse: unknown error
    raise found(text[:300], provider=NAME, code=code_text)


class SimSmsBoxProvider(HttpProvider):
    """SimSmsBox: price-routed rentals of 1-30 days; see the module docstring for assumptions."""

    name = NAME
    can_cancel = False  # no cancel endpoint: a number once bought is paid for
    supports_another_code = True
    can_lookup = True
    can_renew = True

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.simsmsbox.com",
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
    ) -> None:
        headers = {"X-API-Key": api_key, "Accept": "application/json"}
        super().__init__(api_key, base_url, headers=headers, transport=transport, timeout=timeout)
        self._public = make_client(base_url, headers={"Accept": "text/plain"}, timeout=timeout, transport=transport)
        self._binding: dict[str, str] = {}  # order id -> apiBindingKey, kept out of the stored id
        logging.getLogger("httpx").addFilter(p.redact_key_param)  # a no-op when already added

    def _remember(self, bought: Purchase) -> Purchase:
        """Keep the binding key (a secret) in memory only; the bot stores and logs the bare order id."""
        order_id, key = p.split_id(bought.upstream_id)
        if key:
            self._binding[order_id] = key
        return replace(bought, upstream_id=order_id)

    async def _call(self, method: str, path: str, *, paid: bool = False, **kwargs: object) -> object:
        status, body = await self._request(method, path, paid=paid, **kwargs)
        _raise_for(status, body, secret=self._key)
        return body

    async def _list(self, path: str, **kwargs: object) -> list[object]:
        items = p.unwrap_list(await self._call("GET", path, **kwargs))
        if items is None:
            raise errors.BadResponse(f"GET {path}: expected a list", provider=NAME)
        return items

    async def offers(self, country: str | None = None) -> list[Offer]:
        """Cheapest in-stock offer per (service, country), each as one-off, 7- and 30-day rental."""
        countries = p.countries(await self._list("/api/sms/shop/countries"))
        if country is not None:
            countries = [c for c in countries if c[1] == country_code(country)]
        kinds = p.card_kinds(await self._list("/api/sms/shop/number-types"))
        pairs = [(code, iso, kind) for code, iso in countries for kind in kinds]
        gate, failures = asyncio.Semaphore(4), list[errors.ProviderError]()

        async def market(code: str, iso: str, kind: str) -> tuple[str, str, list[object]] | None:
            async with gate:
                try:
                    return iso, kind, await self._list(MARKET, params={"country": code, "cardKind": kind})
                except errors.ProviderError as exc:  # one country's market must not sink the others
                    log.warning("%s: market %s/%s skipped: %s", NAME, code, kind, exc)
                    failures.append(exc)
                    return None

        markets = [m for m in await asyncio.gather(*(market(*pair) for pair in pairs)) if m is not None]
        if failures and not markets:
            raise failures[0]
        return p.build_offers(markets, RENTALS)

    async def buy(self, offer: Offer) -> Purchase:
        """``POST /api/sms/orders/purchase`` with the market service code and card kind from ``product_id``."""
        service, _, kind = (offer.product_id or "").partition("|")
        days = offer.rent_days or 1
        if not service or not kind or not 1 <= days <= 30:
            raise errors.InvalidRequest("offer needs product_id 'service|cardKind' and 1-30 days", provider=NAME)
        payload = {"service": service, "country": offer.country, "cardKind": kind, "rentDays": days}
        bought = p.purchase(await self._call("POST", "/api/sms/orders/purchase", paid=True, json=payload))
        if bought is None:
            raise errors.UnclearResult("purchase answer lacks an order id or phone", provider=NAME)
        bought = self._remember(bought)
        log.info("%s: bought order %s (%s/%s, %s days)", NAME, bought.upstream_id, service, kind, days)
        return bought

    async def check(self, upstream_id: str) -> Status:
        """The latest code: the record URL (no auth header) with the binding key, else the order itself."""
        order_id = p.split_id(upstream_id)[0]
        key = self._binding.get(order_id)
        if not key:  # e.g. after a restart: the order endpoint tells the latest code too
            return p.order_status(await self._call("GET", f"/api/sms/orders/{quote(order_id, safe='')}"))
        request = self._public.build_request("GET", "/api/sms/record", params={"key": key, "format": "txt"})
        where = f"GET {request.url.path}"  # never the query: it holds the binding key
        try:
            response = await self._public.send(request)
        except httpx.RequestError as exc:
            log.warning("%s: %s on %s", NAME, type(exc).__name__, where)
            raise errors.Unavailable(f"{type(exc).__name__} on {where}", provider=NAME) from exc
        status, text = response.status_code, response.text
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise errors.RateLimited(f"rate limited on {where}", provider=NAME, retry_after=retry_after)
        found = p.record(text) if status < 300 else None
        if found is None:  # by HTTP status only: the body is never echoed, it may hold the binding key
            _raise_for(status, None)
            raise errors.BadResponse(f"HTTP {status} on {where}: neither YES|code nor NO|", provider=NAME)
        return found

    async def another_code(self, upstream_id: str) -> None:
        """No-op: a rented number receives further codes for the same app by itself."""

    async def renew(self, upstream_id: str, days: int) -> datetime | None:
        """``POST /api/sms/orders/{id}/renew {"days"}``; the new ``expireAt`` when the answer has it."""
        if days < 1:
            raise errors.InvalidRequest("renew needs at least one day", provider=NAME)
        order_id = p.split_id(upstream_id)[0]
        path = f"/api/sms/orders/{quote(order_id, safe='')}/renew"
        data = p.unwrap_obj(await self._call("POST", path, paid=True, json={"days": days})) or {}
        log.info("%s: renewed order %s by %s days", NAME, order_id, days)
        return p.parse_time(p.first(data, *p.EXPIRY_KEYS))

    async def lookup(self, offer: Offer, since: datetime) -> Purchase | None:
        """The newest order in ``/orders/mine`` (first 20) for the offer created since ``since``."""
        items = await self._list("/api/sms/orders/mine", params={"page": 1, "pageSize": 20})
        found = p.newest_match(items, offer, since)
        return self._remember(found) if found is not None else None

    async def cancel(self, upstream_id: str) -> None:
        """No-op: no cancel endpoint is documented; the rental lapses at expiry (the operator bears the cost)."""
        log.info("%s: no cancel endpoint; order %s lapses at expiry", NAME, p.split_id(upstream_id)[0])

    async def balance(self) -> Balance:
        """``GET /api/sms/wallet/balance``: ``balance`` at the top level or under ``data``, USD by default."""
        return p.balance(await self._call("GET", "/api/sms/wallet/balance"))

    async def close(self) -> None:
        await super().close()
        await self._public.aclose()
