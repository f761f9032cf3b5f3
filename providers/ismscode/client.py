"""Adapter for iSMScode (REST, ``/api/v3``), per ``../shared/providers/002_c32fead30943692c.txt``.

The document names four endpoints only: ``GET /countries``, ``GET /services``,
``POST /numbers/request`` and ``GET /numbers/:number_id/sms``. Assumptions where it is silent:

* Prices and stock are not published, so offers carry ``cost=None`` and ``stock=None`` in USD.
* The number object may spell its id ``id`` / ``number_id`` / ``order_id`` and its phone
  ``phone`` / ``number`` / ``phone_number``; an optional ``price`` / ``cost`` (undocumented) is
  read as a USD amount into ``Purchase.cost``. ``expires_at`` is ISO 8601; a naive time is UTC,
  an unreadable one becomes ``None`` (the number is still ours).
* The error table (``parse.raise_for``) gives HTTP 404 as ``no_numbers_available``, i.e. for
  requesting a number: a 404 on ``POST /numbers/request`` is OutOfStock whatever its code (or with
  no JSON at all). The document never says how an unknown number id is answered: on
  ``GET /numbers/:id/sms`` a 404 (or the code ``not_found``) is assumed to mean that and maps to
  OrderNotFound there only.
* ``POST /numbers/request`` spends money: it is "not sold" only on the table's refusals (400, 401,
  402, 404, 429 and their codes). Any 5xx, a timeout after sending, or an error the table does not
  know (a ``status: error`` in a 200, a 418) is UnclearResult (:mod:`providers.http`).
* Each SMS is ``{"from", "text", "received_at"}``; the upstream extracts no code.
* There is no status, cancel or balance endpoint: state is only WAITING / RECEIVED, ``cancel`` is
  a no-op (the number lapses at its expiry), ``balance`` raises InvalidRequest ``unsupported``.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from providers import errors
from providers.base import Balance, Offer, Purchase, Status
from providers.http import HttpProvider
from providers.ismscode import parse

log = logging.getLogger(__name__)

NAME = parse.NAME


class ISMSCodeProvider(HttpProvider):
    """iSMScode: numbers by ISO country and service slug; see the module docstring for assumptions."""

    name = NAME
    can_cancel = False  # no cancel endpoint: a number once bought is paid for

    default_url = "https://ismscode.com/api/v3"
    raise_for = staticmethod(parse.raise_for)

    async def offers(self, country: str | None = None) -> list[Offer]:
        """Every (service, country) pair the upstream lists; no price or stock is published."""
        countries = (await self._json("GET", "/countries")).get("countries")
        services = (await self._json("GET", "/services")).get("services")
        return parse.offers(countries, services, country)

    async def buy(self, offer: Offer) -> Purchase:
        """``POST /numbers/request``; the id/phone spellings accepted are in the module docstring."""
        payload = {"country": offer.country.upper(), "service": offer.service.lower()}
        bought = parse.purchase(await self._json("POST", parse.REQUEST_PATH, paid=True, json=payload))
        log.info("%s: bought number %s (%s/%s)", NAME, bought.upstream_id, offer.service, offer.country)
        return bought

    async def check(self, upstream_id: str) -> Status:
        """``GET /numbers/:id/sms``: WAITING with no SMS, RECEIVED otherwise (no expiry is reported)."""
        return parse.status(await self._json("GET", f"/numbers/{quote(upstream_id, safe='')}/sms"))

    async def cancel(self, upstream_id: str) -> None:
        """No-op: iSMScode has no cancel endpoint; the reserved number lapses at its expiry."""
        log.info("%s: no cancel endpoint; number %s lapses at expiry", NAME, upstream_id)

    async def balance(self) -> Balance:
        """Unsupported: the document names no balance endpoint. Raises InvalidRequest ``unsupported``."""
        raise errors.InvalidRequest("iSMScode publishes no balance endpoint", provider=NAME, code="unsupported")
