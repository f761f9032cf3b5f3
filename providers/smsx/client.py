"""Adapter for SMSX, a partner API in front of SMSBower, per ``shared/providers/004_b374185868213c15.txt``.

One endpoint, ``{base}/api/virtual-numbers.php?action=…``: GET for reads, POST with a JSON body for
writes, the key in ``X-API-Key`` (the document also allows ``Authorization: Bearer``). Used actions:
``wallet``, ``countries``, ``services``, ``prices``, ``rent_number``, ``status``, ``cancel``. Unused:
``balance`` (the partner's own SMSBower funds: ``rent_number`` never spends them, it spends our
wallet on the partner site, "same catalogue and wallet rules as the website") and outbound SMS
(``POST /api/sms-send.php``, Twilio), which is not part of renting numbers. No finish or
another-code action exists, so ``finish`` is the base no-op and ``another_code`` is unsupported.

Assumptions where the document is silent:

* ``wallet`` (our balance): ``balance`` / ``wallet_balance`` / ``wallet`` (a number, a numeric string,
  or an object with ``balance`` / ``amount``), at the top level or under ``data``, a decimal in
  ``currency`` when the answer names one, else USD (the currency of ``prices``). Like renting, it
  needs PARTNER_VIRTUAL_USER_ID on the server: without it, ``partner_user_not_configured``.
* Countries are sms-activate numeric ids (22 = India) mapped by :func:`normalize.country_code`, by
  the item's ``eng`` / ``name`` when the id is not mapped. ``prices`` has the sms-activate getPrices
  shape ``{country_id: {code: {"cost": 0.35, "count": 120}}}`` or is a list of ``{country, service,
  price|cost, count|stock}``; costs are USD. A country filter asks ``prices`` once per listed id.
* ``Offer.product_id`` is ``"<service code>|<country id>"``, what ``rent_number`` takes back.
* ``rent_number`` answers ``activation_id`` / ``id`` / ``activationId`` and ``phone`` / ``number`` /
  ``phone_number``, at the top level or under ``data``; an optional ``cost`` / ``price`` is USD.
* ``status``: ``otp`` is the latest code and ``sms`` / ``text`` its text (``"Code: <otp>"`` when
  absent); a list under ``sms`` is read as the message history. Also accepted: ``canceled``,
  ``expired``, ``finished``. ``unknown`` with ``raw``: an SMSBower error in ``raw`` (``NO_ACTIVATION``)
  maps like an error, anything else is BadResponse quoting at most 40 characters of it.
* Errors are ``{"ok": false, "error": "..."}`` or ``{"error": "..."}`` (with any HTTP status), mapped
  by the SMSBower / partner error word in ``error`` first (it may be embedded in a longer text),
  the HTTP status second: 400 / 405 InvalidRequest, 401 / 403 Unauthorized, other 5xx Unavailable.
  ``partner_user_not_configured`` (503) is Unauthorized: the operator must set up the partner
  account, a retry will not help. ``BAD_STATUS`` (sms-activate, on cancel) is CancelRefused.
* The document names no error for a wallet too low to rent. Read as ProviderBalanceLow: SMSBower's
  ``NO_BALANCE``, an error text saying so (``insufficient_wallet_balance``, ``insufficient funds``,
  ``not enough balance``, ``wallet empty``, ``low balance``: :data:`_LOW_FUNDS`), or HTTP 402.
* ``rent_number`` spends money: any 5xx is UnclearResult whatever its body, so a refusal word that
  comes with a 5xx (``NO_NUMBERS`` with 502, ``partner_user_not_configured`` with 503) leaves the
  rent unclear rather than "not sold"; so does an error nothing above maps (:mod:`providers.http`).
"""

from __future__ import annotations

import logging
import re

import httpx

from providers import errors as e
from providers.base import Balance, Offer, Purchase, Status, UpstreamState
from providers.http import HttpProvider, paid_outcome
from providers.money import to_minor
from providers.smsx import parse

log = logging.getLogger(__name__)

NAME = "smsx"
CURRENCY = "USD"
PATH = "/api/virtual-numbers.php"

_BY_CODE: dict[str, type[e.ProviderError]] = {
    "NO_NUMBERS": e.OutOfStock,
    "NO_BALANCE": e.ProviderBalanceLow,
    "BAD_KEY": e.Unauthorized,
    "PARTNER_USER_NOT_CONFIGURED": e.Unauthorized,
    "BAD_SERVICE": e.InvalidRequest,
    "WRONG_COUNTRY_ID": e.InvalidRequest,
    "BAD_ACTION": e.InvalidRequest,
    "OUTBOUND_SMS_NOT_CONFIGURED": e.InvalidRequest,
    "NO_ACTIVATION": e.OrderNotFound,
    "WRONG_ACTIVATION_ID": e.OrderNotFound,
    "EARLY_CANCEL_DENIED": e.CancelRefused,
    "BAD_STATUS": e.CancelRefused,
}
_BY_STATUS: dict[int, type[e.ProviderError]] = {
    400: e.InvalidRequest,
    401: e.Unauthorized,
    402: e.ProviderBalanceLow,
    403: e.Unauthorized,
    405: e.InvalidRequest,
}
#: an error text saying our wallet cannot pay (the document names no such error: see the docstring)
_LOW_FUNDS = re.compile(
    r"(?<![a-z])(?:insufficient[\W_]+(?:wallet|balance|funds|credit)|not[\W_]+enough[\W_]+(?:balance|funds|money)"
    r"|low[\W_]+(?:wallet[\W_]+)?balance|wallet[\W_]+(?:is[\W_]+)?empty|empty[\W_]+wallet)",
    re.IGNORECASE,
)


def _known_word(text: str) -> str | None:
    """The first SMSBower / partner error word in ``text``, as spelt there."""
    return next((w for w in re.findall(r"\w+", text) if w.upper() in _BY_CODE), None)


def _raise_for(status: int, body: object, *, secret: str = "") -> None:
    """Raise the typed error for an SMSX answer; return quietly when it is a success.

    Maps by the error word first, HTTP status second; ``secret`` is scrubbed from upstream text.
    """
    error = body.get("error") if isinstance(body, dict) else None
    error = str(error).strip() if error not in (None, "", False) else ""
    failed = isinstance(body, dict) and body.get("ok") is False
    if status < 400 and not error and not failed:
        return
    if secret:  # scrub before any cut, so no part of the key survives
        error = error.replace(secret, "***")
    found = _known_word(error)
    text = f"HTTP {status}: {error[:200]}" if error else f"HTTP {status}"
    code = found or None  # only a recognised protocol word, never free upstream text
    kind = _BY_CODE.get(found.upper()) if found else None
    if kind is None and _LOW_FUNDS.search(error):
        kind = e.ProviderBalanceLow
    kind = kind or _BY_STATUS.get(status)
    if kind is None and status >= 500:
        kind = e.Unavailable
    if kind is None:
        raise e.BadResponse(f"unknown error answer ({text})", provider=NAME, code=code)
    raise kind(text, provider=NAME, code=code)


def _product(offer: Offer) -> tuple[str, int]:
    service, _, country = (offer.product_id or "").rpartition("|")
    if not service or not country.strip().isdigit():
        raise e.InvalidRequest(f"not an smsx offer: {offer.product_id!r}", provider=NAME, code="product_id")
    return service, int(country)


class SmsxProvider(HttpProvider):
    """SMSX partner API over SMSBower; see the module docstring for the assumptions."""

    name = NAME

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://mail.smsx.site",
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
    ) -> None:
        headers = {"X-API-Key": api_key, "Accept": "application/json"}
        super().__init__(api_key, base_url, headers=headers, transport=transport, timeout=timeout)

    async def _call(self, action: str, *, payload: dict | None = None, paid: bool = False, **params: str) -> dict:
        query = {"action": action, **params}
        if payload is None:
            status, body = await self._request("GET", PATH, params=query)
        else:
            status, body = await self._request("POST", PATH, params=query, json=payload, paid=paid)
        with paid_outcome(NAME, action, paid=paid):  # paid: only a known refusal is "not sold"
            _raise_for(status, body, secret=self._key)
            if not isinstance(body, dict):
                raise e.BadResponse(f"{action}: not a JSON object", provider=NAME)
        return body

    async def offers(self, country: str | None = None) -> list[Offer]:
        """countries + services + prices; one Offer per (country id, service code) priced."""
        try:
            countries = parse.parse_countries((await self._call("countries")).get("countries"))
            services = parse.parse_services((await self._call("services")).get("services"))
            if country is None:
                answers = [await self._call("prices")]
            else:
                ids = [cid for cid, iso in countries.items() if iso == country.strip().upper()]
                answers = [await self._call("prices", country=str(cid)) for cid in ids]
            rows = [row for answer in answers for row in parse.parse_prices(answer.get("prices"), CURRENCY)]
        except ValueError as exc:
            raise e.BadResponse(f"catalogue: {exc}", provider=NAME) from exc
        return parse.to_offers(rows, countries, services, provider=NAME, currency=CURRENCY, country=country)

    async def buy(self, offer: Offer) -> Purchase:
        """POST ``rent_number`` with the upstream's service code and numeric country id."""
        service, country = _product(offer)
        body = await self._call("rent_number", payload={"service": service, "country": country}, paid=True)
        data = body["data"] if isinstance(body.get("data"), dict) else body
        upstream_id = parse.first(data, "activation_id", "id", "activationId")
        phone = parse.first(data, "phone", "number", "phone_number")
        if not isinstance(upstream_id, str | int) or not isinstance(phone, str | int):
            raise e.UnclearResult("rent_number answer lacks an activation id or phone", provider=NAME)
        cost = parse.optional_cost(parse.first(data, "cost", "price"), CURRENCY)
        log.info("%s: rented activation %s (%s/%s)", NAME, upstream_id, service, country)
        return Purchase(upstream_id=str(upstream_id), phone=str(phone), cost=cost)

    async def check(self, upstream_id: str) -> Status:
        """GET ``status``: waiting / received (otp) / cancelled; ``unknown`` raises (see the docstring)."""
        body = await self._call("status", id=upstream_id)
        word = str(body.get("status") or "").strip().lower()
        if word not in parse.STATES:  # "unknown": raw is whatever SMSBower said, quoted briefly
            raw = str(body.get("raw") or "")[:200]
            raw = raw.replace(self._key, "***") if self._key else raw
            log.warning("%s: status %r for %s, raw %r", NAME, word[:20], upstream_id, raw[:40])
            if found := _known_word(raw):
                _raise_for(200, {"error": found})
            raise e.BadResponse(f"status {word[:20]!r}, raw {raw[:40]!r}", provider=NAME, code="unknown")
        sms = parse.parse_sms(body)
        if parse.STATES[word] is UpstreamState.RECEIVED and not sms:
            raise e.BadResponse("status received without otp or text", provider=NAME)
        return Status(state=parse.STATES[word], sms=sms)

    async def cancel(self, upstream_id: str) -> None:
        """POST ``cancel``; EARLY_CANCEL_DENIED / BAD_STATUS raise CancelRefused."""
        await self._call("cancel", payload={"id": upstream_id})
        log.info("%s: cancelled activation %s", NAME, upstream_id)

    async def balance(self) -> Balance:
        """GET ``wallet``: our wallet on the partner site, what ``rent_number`` spends (see the docstring)."""
        body = await self._call("wallet")
        holder = body["data"] if isinstance(body.get("data"), dict) else body
        amount = parse.first(holder, "balance", "wallet_balance", "wallet")
        nested = amount if isinstance(amount, dict) else {}
        if nested:
            amount = parse.first(nested, "balance", "amount")
        currency = parse.first(nested, "currency") or parse.first(holder, "currency")
        currency = currency.strip().upper() if isinstance(currency, str) and currency.strip() else CURRENCY
        try:
            return Balance(amount=to_minor(amount, currency), currency=currency)
        except ValueError as exc:
            raise e.BadResponse("wallet: no readable balance", provider=NAME) from exc
