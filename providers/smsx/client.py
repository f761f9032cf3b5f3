"""Adapter for SMSX, a partner API in front of SMSBower, per ``../shared/providers/004_b374185868213c15.txt``.

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
  (``parse.raise_for``) by the SMSBower / partner error word in ``error`` first (it may be embedded in a longer text),
  the HTTP status second: 400 / 405 InvalidRequest, 401 / 403 Unauthorized, other 5xx Unavailable.
  ``partner_user_not_configured`` (503) is Unauthorized: the operator must set up the partner
  account, a retry will not help. ``BAD_STATUS`` (sms-activate, on cancel) is CancelRefused.
* The document names no error for a wallet too low to rent. Read as ProviderBalanceLow: SMSBower's
  ``NO_BALANCE``, an error text saying so (``insufficient_wallet_balance``, ``insufficient funds``,
  ``not enough balance``, ``wallet empty``, ``low balance``: ``parse.LOW_FUNDS``), or HTTP 402.
* ``rent_number`` spends money: any 5xx is UnclearResult whatever its body, so a refusal word that
  comes with a 5xx (``NO_NUMBERS`` with 502, ``partner_user_not_configured`` with 503) leaves the
  rent unclear rather than "not sold"; so does an error nothing above maps (:mod:`providers.http`).
"""

from __future__ import annotations

import logging

from providers import errors
from providers.base import Balance, Offer, Purchase, Status
from providers.http import HttpProvider
from providers.smsx import parse

log = logging.getLogger(__name__)

NAME = parse.NAME
PATH = "/api/virtual-numbers.php"


def _product(offer: Offer) -> tuple[str, int]:
    service, _, country = (offer.product_id or "").rpartition("|")
    if not service or not country.strip().isdigit():
        raise errors.InvalidRequest(f"not an smsx offer: {offer.product_id!r}", provider=NAME, code="product_id")
    return service, int(country)


class SmsxProvider(HttpProvider):
    """SMSX partner API over SMSBower; see the module docstring for the assumptions."""

    name = NAME

    default_url = "https://mail.smsx.site"
    key_header = "X-API-Key"
    raise_for = staticmethod(parse.raise_for)

    async def _call(self, action: str, *, payload: dict | None = None, paid: bool = False, **params: str) -> dict:
        """GET ``action`` (POST with a JSON ``payload``): the answer once no error is found in it."""
        query = {"action": action, **params}
        if payload is None:
            return await self._json("GET", PATH, where=action, params=query)
        return await self._json("POST", PATH, paid=paid, where=action, params=query, json=payload)

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
            rows = [row for answer in answers for row in parse.parse_prices(answer.get("prices"), parse.CURRENCY)]
        except ValueError as exc:
            raise errors.BadResponse(f"catalogue: {exc}", provider=NAME) from exc
        return parse.to_offers(rows, countries, services, country=country)

    async def buy(self, offer: Offer) -> Purchase:
        """POST ``rent_number`` with the upstream's service code and numeric country id."""
        service, country = _product(offer)
        body = await self._call("rent_number", payload={"service": service, "country": country}, paid=True)
        bought = parse.purchase(body)
        log.info("%s: rented activation %s (%s/%s)", NAME, bought.upstream_id, service, country)
        return bought

    async def check(self, upstream_id: str) -> Status:
        """GET ``status``: waiting / received (otp) / cancelled; ``unknown`` raises (see the docstring)."""
        return parse.status(await self._call("status", id=upstream_id), secret=self._key)

    async def cancel(self, upstream_id: str) -> None:
        """POST ``cancel``; EARLY_CANCEL_DENIED / BAD_STATUS raise CancelRefused."""
        await self._call("cancel", payload={"id": upstream_id})
        log.info("%s: cancelled activation %s", NAME, upstream_id)

    async def balance(self) -> Balance:
        """GET ``wallet``: our wallet on the partner site, what ``rent_number`` spends (see the docstring)."""
        return parse.balance(await self._call("wallet"))
