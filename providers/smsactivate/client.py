"""Generic adapter for the sms-activate ``handler_api.php`` protocol (SMSBower and many resellers).

No written document: this follows the de facto protocol (``shared/providers/README.md``). Assumptions:

* The key is in the query string: logs and errors name the action and URL path only, transport errors
  are raised ``from None`` (httpx errors carry the URL), and :mod:`providers.smsactivate_parse` masks
  ``api_key=`` in httpx's own request log lines.
* ``getPrices`` gives ``cost``/``count`` or V2 ``{price: count}`` tiers (cheapest stocked price, summed
  stock) in the constructor's ``currency``. Country ids map via ``normalize.country_code``; ids it does
  not know go by their ``eng`` name from ``getCountries`` (fetched once). ``product_id`` is
  ``"<service code>|<country id>"``.
* ``getNumber`` sends ``maxPrice`` = the offer's cost when known (never pay above the price shown);
  ``v2=True`` uses ``getNumberV2`` (``activationId``/``phoneNumber``/``activationCost`` or variants; its
  naive ``activationEndTime`` is unused). An all-digit phone gets a ``+``. ``setStatus=1`` follows,
  best effort (a failure is logged and ignored: the number is bought).
* ``getStatus`` tells only the latest code: :meth:`check` returns at most one SMS, ``"Code: <code>"``;
  ``STATUS_WAIT_RETRY:<code>`` is RECEIVED with the earlier code.
* ``EARLY_CANCEL_DENIED`` is CancelRefused with ``retry_after`` = :data:`EARLY_CANCEL_RETRY`;
  ``BAD_STATUS`` is InvalidRequest. JSON-wrapped errors: ``error`` / ``message`` / ``title`` / ``msg``.
* The paid call (``getNumber``) is a definite "not sold" only on a known refusal word (``NO_NUMBERS``,
  ``NO_BALANCE``, ``BAD_*``, ``WRONG_*``, ``BANNED``) or a bare 401/403 below HTTP 500. Any 5xx (whatever
  its text, a known word included), a timeout after sending, ``ERROR_SQL``, HTML, an empty or unknown
  reply is UnclearResult (the rule of :mod:`providers.http`).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TypeVar

import httpx

from providers import errors
from providers.base import Balance, Offer, Purchase, Status
from providers.http import _NOT_SENT, HttpProvider, paid_outcome, parse_retry_after
from providers.money import exponent, to_minor
from providers.normalize import service_slug
from providers.smsactivate import parse
from providers.smsactivate.parse import handler_url

log = logging.getLogger(__name__)
T = TypeVar("T")

NAME = "smsactivate"
EARLY_CANCEL_RETRY = 120.0  # seconds: sms-activate refuses cancels in an activation's first two minutes

_BY_CODE: dict[str, type[errors.ProviderError]] = {
    "NO_NUMBERS": errors.OutOfStock,
    "NO_BALANCE": errors.ProviderBalanceLow,
    **dict.fromkeys(("BAD_KEY", "BANNED"), errors.Unauthorized),
    **dict.fromkeys(("BAD_ACTION", "BAD_SERVICE", "BAD_STATUS", "WRONG_COUNTRY_ID"), errors.InvalidRequest),
    "WRONG_MAX_PRICE": errors.InvalidRequest,
    **dict.fromkeys(("NO_ACTIVATION", "WRONG_ACTIVATION_ID"), errors.OrderNotFound),
    "EARLY_CANCEL_DENIED": errors.CancelRefused,
    "ERROR_SQL": errors.Unavailable,
}
_BY_STATUS: dict[int, type[errors.ProviderError]] = {401: errors.Unauthorized, 403: errors.Unauthorized}


def _raise_for(status: int, body: str, *, secret: str = "", provider: str = NAME) -> None:
    """Raise the typed error for a reply, by protocol word (plain or JSON-wrapped) first, HTTP status
    second; HTML or an empty body is BadResponse. Quiet for a possible success; scrubs ``secret``."""
    for code, detail in parse.error_words(body):
        error = _BY_CODE.get(code)
        if error is None:
            continue
        text = parse.describe(code, detail)
        text = (text.replace(secret, "***") if secret else text)[:300]
        if error is errors.CancelRefused:
            raise errors.CancelRefused(text, provider=provider, code=code, retry_after=EARLY_CANCEL_RETRY)
        raise error(text, provider=provider, code=code)
    stripped = body.strip()
    if status >= 500:
        raise errors.Unavailable(f"HTTP {status}", provider=provider)
    if status in _BY_STATUS:
        raise _BY_STATUS[status](f"HTTP {status}", provider=provider)
    if status >= 300 or not stripped or parse.looks_like_html(stripped) or parse.is_json_error(stripped):
        what = "empty body" if not stripped else "HTML page" if parse.looks_like_html(stripped) else "unknown reply"
        raise errors.BadResponse(f"HTTP {status}: {what}", provider=provider)


class SmsActivateProvider(HttpProvider):
    """One sms-activate-protocol upstream; several can run side by side under their own ``name``.

    Only the client and key come from :class:`HttpProvider`: replies are plain text, so :meth:`_call`
    sends them itself (the key rides in the query) instead of using ``_request``.
    """

    name = NAME
    supports_another_code = True

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        name: str = NAME,
        currency: str = "USD",
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
        v2: bool = False,
    ) -> None:
        self.name = name
        self.currency = currency.upper()
        self.v2 = v2
        super().__init__(api_key, "", headers={"Accept": "*/*"}, transport=transport, timeout=timeout)
        self._url = handler_url(base_url)
        self._country_names: dict[str, str] | None = None

    async def _call(self, action: str, paid: bool = False, **params: object) -> str:
        """One ``GET`` of the handler; returns the reply text once it is not a known error."""
        query = {"api_key": self._key, "action": action} | {k: str(v) for k, v in params.items() if v is not None}
        request = self._client.build_request("GET", self._url, params=query)
        where = f"{action} on {request.url.path}"  # never the URL: its query holds the key
        try:
            response = await self._client.send(request)
        except httpx.RequestError as exc:
            kind = type(exc).__name__
            if paid and not isinstance(exc, _NOT_SENT):
                log.warning("%s: %s on paid %s, outcome unknown", self.name, kind, where)
                raise errors.UnclearResult(f"{kind} on {where}; outcome unknown", provider=self.name) from None
            log.warning("%s: %s on %s", self.name, kind, where)
            raise errors.Unavailable(f"{kind} on {where}", provider=self.name) from None
        status, text = response.status_code, response.text
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            log.warning("%s: rate limited on %s (retry after %s)", self.name, where, retry_after)
            raise errors.RateLimited(f"rate limited on {where}", provider=self.name, retry_after=retry_after)
        if paid and status >= 500:  # whatever the body says, even a known word: the outcome is unknown
            log.warning("%s: HTTP %s on paid %s, outcome unknown", self.name, status, where)
            raise errors.UnclearResult(f"HTTP {status} on {where}; outcome unknown", provider=self.name)
        try:
            with paid_outcome(self.name, where, paid=paid):  # an unknown reply to a paid call is unclear
                _raise_for(status, text, secret=self._key, provider=self.name)
        except errors.BadResponse as exc:
            log.warning("%s: %s on %s", self.name, exc, where)
            raise
        return text.strip()

    def _need(self, value: T | None, action: str, text: str, *, paid: bool = False) -> T:
        """``value`` parsed from ``text``; a wrong shape is BadResponse (UnclearResult when paid)."""
        if value is not None:
            return value
        snippet = (text.replace(self._key, "***") if self._key else text)[:60]
        log.warning("%s: unexpected reply to %s: %r", self.name, action, snippet)
        if paid:
            raise errors.UnclearResult(f"unexpected reply to {action}; outcome unknown", provider=self.name)
        raise errors.BadResponse(f"unexpected reply to {action}: {snippet!r}", provider=self.name)

    async def offers(self, country: str | None = None) -> list[Offer]:
        """``getPrices`` for every country, filtered here to ``country`` (ISO) when given."""
        text = await self._call("getPrices")
        rows = self._need(parse.prices(parse.loads(text)), "getPrices", text)
        if self._country_names is None and any(parse.unmapped(c) for c, _, _, _ in rows):
            self._country_names = parse.country_names(parse.loads(await self._call("getCountries")))
        names, cur = self._country_names or {}, self.currency
        offers = [
            Offer(self.name, service_slug(s), parse.country(c, names), to_minor(p, cur), cur, n, f"{s}|{c}")
            for c, s, p, n in rows
        ]
        return [o for o in offers if country is None or o.country == country.upper()]

    async def buy(self, offer: Offer) -> Purchase:
        """``getNumber`` (or ``getNumberV2``), then ``setStatus=1`` best effort; never retried."""
        service, _, country_id = (offer.product_id or "").partition("|")
        if not service or not country_id:
            raise errors.InvalidRequest("no '<service>|<country>' product_id", provider=self.name, code="bad_offer")
        max_price = None if offer.cost is None else str(Decimal(offer.cost).scaleb(-exponent(self.currency)))
        action = "getNumberV2" if self.v2 else "getNumber"
        text = await self._call(action, paid=True, service=service, country=country_id, maxPrice=max_price)
        upstream_id, phone, cost = self._need(parse.purchase(text, self.v2), action, text, paid=True)
        log.info("%s: bought activation %s (%s/%s)", self.name, upstream_id, service, country_id)
        try:
            await self._set_status(upstream_id, 1, "ACCESS_READY")
        except errors.ProviderError as exc:
            log.warning("%s: setStatus=1 for %s failed, ignored: %s", self.name, upstream_id, exc)
        return Purchase(upstream_id, phone, None, to_minor(cost, self.currency) if cost is not None else None)

    async def check(self, upstream_id: str) -> Status:
        """``getStatus``: at most the latest code, as one ``Sms`` (see the module docstring)."""
        text = await self._call("getStatus", id=upstream_id)
        return self._need(parse.status(text), "getStatus", text)

    async def _set_status(self, upstream_id: str, status: int, expected: str) -> None:
        text = await self._call("setStatus", id=upstream_id, status=status)
        word = parse.word(text)
        self._need(word if word and word[0] == expected else None, f"setStatus={status}", text)

    async def cancel(self, upstream_id: str) -> None:
        """``setStatus=8``; EARLY_CANCEL_DENIED raises CancelRefused (retry after 120 s)."""
        await self._set_status(upstream_id, 8, "ACCESS_CANCEL")

    async def finish(self, upstream_id: str) -> None:
        """``setStatus=6``: the activation is complete."""
        await self._set_status(upstream_id, 6, "ACCESS_ACTIVATION")

    async def another_code(self, upstream_id: str) -> None:
        """``setStatus=3``: wait for one more SMS on the same number."""
        await self._set_status(upstream_id, 3, "ACCESS_RETRY_GET")

    async def balance(self) -> Balance:
        text = await self._call("getBalance")
        return Balance(to_minor(self._need(parse.balance(text), "getBalance", text), self.currency), self.currency)
