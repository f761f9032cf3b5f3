"""Adapter for smscartesim (REST, ``/api/v1``), per ``../shared/providers/000_320b1b12571c995f.txt``.

The document names ``GET /user/balance``, ``GET /services``, ``POST /orders`` and ``GET /sms``
and ``POST /messages`` (an SMS from one of our numbers, for a user's reply from a rented number);
``POST /otp/send`` and ``POST /otp/verify`` send a code to any handset and are deliberately unused
(spam and SMS-pumping fraud at the operator's cost). It shows one answer only, the balance
``{"status": "success", "balance": 50.00, "currency": "USD"}``. Assumptions where it is silent:

* Every answer is ``{"status": "success" | "error", ...}``; amounts are USD unless a ``currency``
  says otherwise.
* ``GET /services[?country=us]`` holds ``services`` (or ``data``) as either a list of items
  ``{service|code, name, country (code such as 'us'/'uk', or an id), price, stock|count|available}``
  (an item may list ``countries`` instead of one ``country``) or a map ``{country: {service: item
  or price}}``. Countries go through ``normalize.country_code`` (``'uk'`` -> GB; a numeric id is read
  as an sms-activate id). We send ``country`` as the lower-case ISO code, ``'uk'`` for GB (the
  document's own example), and drop any other country from the answer.
* A services item may carry a rental length (``rent_days`` / ``days``, whole days; the document
  shows none): its offer is then a rental of that length (``Offer.rent_days``, ``price`` for the whole
  period) bought by the same ``POST /orders``. Without one, an item is a one-off activation.
* ``Offer.product_id`` is ``"<service code>|<country token>"``: ``buy`` sends back exactly the
  upstream's own tokens, as a JSON body ``{"service", "country"}`` (the document does not say JSON
  or form).
* The order from ``POST /orders`` sits under ``order`` / ``data`` / ``number`` or at the top level,
  with ``id`` / ``order_id`` / ``orderId``, ``phone`` / ``number`` / ``phone_number``, optional
  ``price`` and ``expires_at`` (ISO 8601, naive = UTC, or Unix seconds).
* ``GET /sms?id=`` holds ``messages`` / ``sms`` / ``data`` (optionally all under a ``data`` object),
  each ``{text|message|body, code?, from|sender, received_at|created_at}``, and maybe a status word
  of the number (``order_status`` / ``state`` / a ``status`` that is not the envelope's):
  active/waiting -> WAITING (RECEIVED once an SMS is there), received -> RECEIVED, completed ->
  FINISHED, cancelled -> CANCELLED, expired -> EXPIRED. No word: WAITING, or RECEIVED with SMS.
* ``GET /sms`` without an id "returns a list of active numbers" (the document's words; no shape is
  shown). :meth:`lookup` assumes the list under ``data`` / ``numbers`` / ``orders`` / ``active`` /
  ``items`` (optionally inside a ``data`` object), each item an order like ``POST /orders`` gives:
  ``id`` / ``order_id`` / ``orderId``, ``phone`` / ``number`` / ``phone_number``, the upstream's
  ``service`` and ``country`` tokens (as ``product_id`` holds them; or the slug / ISO code they map
  to), the purchase time ``created_at`` / ``createdAt`` / ``purchased_at`` (ISO 8601 or Unix seconds),
  optional ``expires_at``, ``price`` and a status word. An item without service, country or purchase
  time is never taken, nor one whose status word says cancelled or expired; of the rest bought at or
  after ``since``, the earliest is the lost purchase (the bot refuses a number another order holds).
* :meth:`active` reads the same list ("Get SMS messages for your numbers"): an item that carries its
  SMS under ``messages`` / ``sms`` (a list, empty while none came) is read exactly as ``GET /sms?id=``
  is for it (its status word, the same SMS fields), so both reads store the same SMS. An item with no
  such list, or no id, is left out (its SMS are unknown), as is every number the list does not show:
  the poll job asks ``GET /sms?id=`` about those.
* ``POST /messages`` is sent as JSON ``{"from_sender": <our number>, "to_number": <+international>,
  "message", "type": "sms"}``. It spends money: sent on a success envelope or an answer naming the
  message (``id`` / ``message_id`` / ``messageId``, maybe under ``data``); refused on an error mapped
  as below (401/403, 402, 429, 400/422, 404 = the sender is not one of our numbers, codes
  ``invalid_number`` / ``invalid_recipient`` / ``invalid_sender``); anything else UnclearResult.
* There is no cancel endpoint: ``cancel`` is a no-op and the number lapses at its expiry.
* Errors are ``{"status": "error", "message": ..., "code"?: ...}`` with an HTTP status, see
  ``parse.raise_for``: a known string code first; then 401/403 Unauthorized, 429 RateLimited, 5xx
  Unavailable; then the message ("insufficient"/"balance" -> ProviderBalanceLow; "no number"/
  "out of stock"/"not available" -> OutOfStock, except on ``/sms``); then 402 ProviderBalanceLow,
  404 OutOfStock on ``/orders`` and OrderNotFound on ``/sms``, 400/422 InvalidRequest; anything
  else (an error inside a 200 included) BadResponse.
* ``POST /orders`` spends money: it is "not sold" only on a refusal mapped above below HTTP 500. Any
  5xx (whatever its body, a refusal code included), a timeout after sending, or an error nothing
  above maps is UnclearResult (:mod:`providers.http`); a 4xx without JSON maps by its status alone.
"""

from __future__ import annotations

import logging
from datetime import datetime

from providers import errors
from providers.base import Balance, Offer, Purchase, SentSms, Status
from providers.http import HttpProvider
from providers.normalize import country_code
from providers.smscartesim import active_numbers, parse

log = logging.getLogger(__name__)

NAME = parse.NAME


def _country_token(iso: str) -> str:
    return "uk" if iso == "GB" else iso.lower()


class SmsCartesimProvider(HttpProvider):
    """smscartesim: numbers by the upstream's own service and country codes; see the module docstring."""

    name = NAME
    can_cancel = False  # no cancel endpoint: a number once bought is paid for
    can_lookup = True  # GET /sms without an id lists the active numbers ...
    can_list_active = True  # ... with their SMS (see the module docstring)
    can_send_sms = True  # POST /messages from one of our numbers

    default_url = "https://smscartesim.com/api/v1"
    raise_for = staticmethod(parse.raise_for)

    async def offers(self, country: str | None = None) -> list[Offer]:
        """``GET /services``, filtered by ``country`` (ISO alpha-2 or the upstream's code) when given."""
        only = country_code(country) if country else None
        token = _country_token(only) if only else None
        body = await self._json("GET", "/services", params={"country": token} if token else None)
        return parse.parse_offers(body, country_token=token, only=only)

    async def buy(self, offer: Offer) -> Purchase:
        """``POST /orders`` with the service and country tokens kept in ``offer.product_id``."""
        service, _, token = (offer.product_id or "").partition("|")
        if not service or not token:
            raise errors.InvalidRequest("offer has no smscartesim product_id", provider=NAME, code="no_product_id")
        body = await self._json("POST", "/orders", paid=True, json={"service": service, "country": token})
        purchase = parse.parse_purchase(body)
        log.info("%s: bought order %s (%s/%s)", NAME, purchase.upstream_id, service, token)
        return purchase

    async def check(self, upstream_id: str) -> Status:
        """``GET /sms?id=``: every SMS so far and the number's state (see the module docstring)."""
        return parse.parse_status(await self._json("GET", "/sms", params={"id": upstream_id}))

    async def lookup(self, offer: Offer, since: datetime) -> Purchase | None:
        """``GET /sms`` without an id: the active number bought for ``offer`` at or after ``since``
        (see the module docstring for the list's assumed shape); None when there is none."""
        if not (offer.product_id or "").partition("|")[2]:
            raise errors.InvalidRequest("offer has no smscartesim product_id", provider=NAME, code="no_product_id")
        found = active_numbers.match_active(active_numbers.parse_active(await self._json("GET", "/sms")), offer, since)
        if found is not None:
            log.info("%s: lookup found order %s (%s)", NAME, found.upstream_id, offer.product_id)
        return found

    async def active(self) -> dict[str, Status]:
        """``GET /sms`` without an id: the Status of every active number whose SMS the list shows."""
        return active_numbers.statuses(active_numbers.parse_active(await self._json("GET", "/sms")))

    async def cancel(self, upstream_id: str) -> None:
        """No-op: the document names no cancel endpoint; the number lapses at its expiry."""
        log.info("%s: no cancel endpoint; order %s lapses at expiry", NAME, upstream_id)

    async def send_sms(self, phone: str, to: str, text: str) -> SentSms:
        """``POST /messages`` from our number ``phone`` (paid: only a mapped refusal is "not sent")."""
        payload = {"from_sender": phone, "to_number": to, "message": text, "type": "sms"}
        sent = parse.parse_sent(await self._json("POST", "/messages", paid=True, json=payload))
        log.info("%s: SMS sent (message %s)", NAME, sent.upstream_id)
        return sent

    async def balance(self) -> Balance:
        """``GET /user/balance``."""
        return parse.balance(await self._json("GET", "/user/balance"))
