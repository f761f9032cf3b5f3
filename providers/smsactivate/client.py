"""Adapter for the sms-activate protocol (SMSBower and many resellers), per ``../shared/providers/README.md``.

No written document: this follows the de facto protocol the README describes. Assumptions:

* The key is in the query string: logs and errors name the action and URL path only, and
  :func:`providers.http.send` drops httpx's errors (they carry the URL) and masks ``api_key=`` in
  httpx's own request log lines.
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
* ``getActiveActivations`` (:meth:`active`, one call for every open activation) answers JSON
  ``{"status": "success", "activeActivations": [{"activationId", "phoneNumber", "activationStatus",
  "smsCode": [..] | null, "smsText": ".." | null, ...}]}`` (a map of such items is read too; an item
  without an id is skipped, and the poll job asks getStatus about it). ``NO_ACTIVATIONS``, plain or
  JSON-wrapped, is an empty answer. Each activation's SMS are those :meth:`check` has built: every code
  of ``smsCode``, each as ``"Code: <code>"`` (which end is the newest is not documented; ``smsText`` is
  not used, so both reads store the same SMS); ``activationStatus`` ``8`` (or ``STATUS_CANCEL``) is
  CANCELLED. Anything else
  (HTML, an unknown word, a list missing) goes through the error table like every other read.
* ``EARLY_CANCEL_DENIED`` is CancelRefused with ``retry_after`` = :data:`EARLY_CANCEL_RETRY`;
  ``BAD_STATUS`` is InvalidRequest. JSON-wrapped errors: ``error`` / ``message`` / ``title`` / ``msg``.
* The paid call (``getNumber``) is a definite "not sold" only on a known refusal word (``NO_NUMBERS``,
  ``NO_BALANCE``, ``BAD_*``, ``WRONG_*``, ``BANNED``) or a bare 401/403 below HTTP 500. Any 5xx (whatever
  its text, a known word included), a timeout after sending, ``ERROR_SQL``, HTML, an empty or unknown
  reply is UnclearResult (the rule of :mod:`providers.http`). The error table is ``parse.raise_for``.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from providers import errors
from providers.base import Balance, Offer, Purchase, Status
from providers.http import HttpProvider, paid_outcome
from providers.money import exponent, to_minor
from providers.normalize import service_slug
from providers.smsactivate import large_json, parse

log = logging.getLogger(__name__)
T = TypeVar("T")

NAME = parse.NAME
EARLY_CANCEL_RETRY = parse.EARLY_CANCEL_RETRY


class SmsActivateProvider(HttpProvider):
    """One sms-activate-protocol upstream; several can run side by side under their own ``name``.

    Replies are plain text: :meth:`_text` reads what :meth:`HttpProvider._send` returns through the
    protocol's error table (``parse.raise_for``) instead of using the JSON layer.
    """

    name = NAME
    supports_another_code = True
    can_list_active = True  # getActiveActivations

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
        super().__init__(api_key, transport=transport, timeout=timeout)
        self._url = parse.handler_url(base_url)
        self._path = urlsplit(self._url).path
        self._country_names: dict[str, str] | None = None

    def headers(self) -> dict[str, str]:
        """No key header: the key rides in the query of each request."""
        return {"Accept": "*/*"}

    async def _text(self, action: str, paid: bool = False, answers: tuple[str, ...] = (), **params: object) -> str:
        """One ``GET`` of the handler; returns the reply text once it is not a known error. A 2xx reply
        that is one of the words ``answers`` (plain or JSON-wrapped) is an answer, not an error."""
        return self._read(await self._get(action, paid, params), action, paid, answers)

    async def _get(self, action: str, paid: bool, params: dict[str, object]) -> httpx.Response:
        query = {"api_key": self._key, "action": action} | {k: str(v) for k, v in params.items() if v is not None}
        return await self._send("GET", self._url, paid=paid, where=self._where(action), params=query)

    def _where(self, action: str) -> str:
        return f"{action} on {self._path}"  # never the URL: its query holds the key

    def _read(self, response: httpx.Response, action: str, paid: bool, answers: tuple[str, ...]) -> str:
        """The reply's text once :meth:`_text` finds it is not an error."""
        where = self._where(action)
        words = [code for code, _ in parse.error_words(response.text)] if response.status_code < 300 else []
        if words and all(code in answers for code in words):  # an error word beside an answer is the error
            return words[0]
        try:
            with paid_outcome(self.name, where, paid=paid):  # an unknown reply to a paid call is unclear
                parse.raise_for(response.status_code, response.text, secret=self._key, provider=self.name)
        except errors.BadResponse as exc:
            log.warning("%s: %s on %s", self.name, exc, where)
            raise
        return response.text.strip()

    def _need(self, value: T | None, action: str, text: str, *, paid: bool = False) -> T:
        """``value`` parsed from ``text``; a wrong shape is BadResponse (UnclearResult when paid)."""
        if value is not None:
            return value
        snippet = parse.snippet(text, self._key)
        log.warning("%s: unexpected reply to %s: %r", self.name, action, snippet)
        if paid:
            raise errors.UnclearResult(f"unexpected reply to {action}; outcome unknown", provider=self.name)
        raise errors.BadResponse(f"unexpected reply to {action}: {snippet!r}", provider=self.name)

    async def offers(self, country: str | None = None) -> list[Offer]:
        """``getPrices`` for every country, filtered here to ``country`` (ISO) when given."""
        text = await self._text("getPrices")
        rows = self._need(parse.prices(text), "getPrices", text)
        if self._country_names is None and any(parse.unmapped(c) for c, _, _, _ in rows):
            self._country_names = parse.country_names(await self._text("getCountries"))
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
        text = await self._text(action, paid=True, service=service, country=country_id, maxPrice=max_price)
        upstream_id, phone, cost = self._need(parse.purchase(text, self.v2), action, text, paid=True)
        log.info("%s: bought activation %s (%s/%s)", self.name, upstream_id, service, country_id)
        try:
            await self._set_status(upstream_id, 1, "ACCESS_READY")
        except errors.ProviderError as exc:
            log.warning("%s: setStatus=1 for %s failed, ignored: %s", self.name, upstream_id, exc)
        return Purchase(upstream_id, phone, None, to_minor(cost, self.currency) if cost is not None else None)

    async def check(self, upstream_id: str) -> Status:
        """``getStatus``: at most the latest code, as one ``Sms`` (see the module docstring)."""
        text = await self._text("getStatus", id=upstream_id)
        return self._need(parse.status(text), "getStatus", text)

    async def active(self) -> dict[str, Status]:
        """``getActiveActivations``: every open activation's Status in one call (see the module docstring).
        A large answer (thousands of activations) is read in a worker thread, member by member
        (:mod:`providers.smsactivate.large_json`): the event loop goes on meanwhile."""
        response = await self._get("getActiveActivations", False, {})
        if len(response.content) < large_json.LARGE:
            return self._active(response)
        return await asyncio.to_thread(self._active, response)

    def _active(self, response: httpx.Response) -> dict[str, Status]:
        with large_json.decoding_once():  # its error words and its list: one decode
            text = self._read(response, "getActiveActivations", False, (parse.NO_ACTIVATIONS,))
            if text == parse.NO_ACTIVATIONS:
                return {}
            return self._need(parse.active(text), "getActiveActivations", text)

    async def _set_status(self, upstream_id: str, status: int, expected: str) -> None:
        text = await self._text("setStatus", id=upstream_id, status=status)
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
        text = await self._text("getBalance")
        return Balance(to_minor(self._need(parse.balance(text), "getBalance", text), self.currency), self.currency)
