"""Adapter for SimSmsBox (REST, ``X-API-Key``), per ``../shared/providers/001_943acbeb186e1349.txt``.

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
  optional ``price`` / ``amount``. ``upstream_id`` is the bare ``orderId``. The answer's
  ``apiBindingKey`` (a secret opening the key-authorised record URL) is not kept: that URL gives the
  latest code only, and check() needs the order's ``expireAt`` and the SMS texts anyway.
* check() reads ``GET /api/sms/orders/{id}`` (``status``, ``latestCode``, ``expireAt``, ``phone``,
  ``displayOrderNo``, ``createdAt``; unknown ``status`` words -> WAITING) and ``Status.expires_at`` is
  its ``expireAt`` (after a renewal too). The document names no per-order messages endpoint, only
  ``GET /api/sms/orders/messages?page=&pageSize=`` ("all SMS messages I received"): once the order has
  a ``latestCode`` (or a received/finished status), check() reads its first page (20, assumed newest
  first) and keeps the order's messages: an item naming an order (``orderId`` / ``order_id``, or
  ``displayOrderNo`` / ``orderNo``) must name this one; an item naming none must carry the order's
  phone (``phone`` / ``number`` / ``phoneNumber`` / ``to`` / ``receiver``, digits compared) and a time
  (``receivedAt`` / ``received_at`` / ``createdAt`` / ``time``) not before the order's ``createdAt``.
  Text is ``content`` / ``text`` / ``message`` / ``sms`` / ``body``, code ``code`` / ``verifyCode`` /
  ``otp``, sender ``from`` / ``sender``. ``latestCode`` is the code of the newest message whose text
  holds it. Fallback, so that a code is never withheld: when no message read carries ``latestCode``
  (the messages call failed, other orders' messages pushed it off the first page, or the list lags),
  the Sms is ``Code: <latestCode>`` as before; the real text, once read, then arrives as one more
  Sms with the same code. A 429 on the messages call is raised (the guard must pause), not hidden.
* active() walks ``GET /api/sms/orders/mine?page=&pageSize=100`` (the document: "My orders"; the
  page size beyond its example of 20 is assumed accepted, and a smaller cap still pages right) until a
  page is empty or brings no new order, the answer's ``total`` (``total`` / ``totalCount`` / ``count``,
  at the top or under ``data``) is reached, or, with no total, a page is shorter than the first; 100
  pages at most. Its items are assumed to be the order objects ``GET /orders/{id}`` gives; an item
  showing no ``status`` or no ``latestCode`` key (null while no code came) is left out, as it may be a
  summary hiding a code: the poll job checks those, and every order not listed, one by one. Each
  listed order's Status is built as check() builds it, from one read of the messages list for all.
* Errors ``{"code", "message"}`` / ``{"error"}``, also in a 2xx with ``success: false``, ``error`` or
  ``code`` 400-599: ``no available platform`` -> OutOfStock, ``insufficient`` / ``balance`` ->
  ProviderBalanceLow (any case), else by status (400, 401/403, 402, 404, 429, 5xx): ``parse.raise_for``.
* Purchase and renew spend money: "not sold" / "not renewed" only on those refusals; any 5xx (a
  ``code`` 500-599 in a 2xx too), a timeout after sending, or an unmapped error is UnclearResult.
  The document shows no renew answer: a 2xx is a renewal only when it says so (``code`` 0 / 200,
  ``success`` / ``ok`` true, or the order's id or ``expireAt``); a bare ``{"message": ...}`` is
  UnclearResult. An order answer naming no order (none of ``status``, ``latestCode``, id, ``expireAt``,
  which the document lists) is BadResponse on check(), never "waiting".
* No cancel endpoint is documented: ``can_cancel`` is false and cancel() a no-op; the number lapses
  at its expiry and its cost is spent (bot/refunds.py decides who bears it). Codes arrive by
  themselves during a rental.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from urllib.parse import quote

from providers import errors
from providers.base import Balance, Offer, Purchase, Status
from providers.http import HttpProvider
from providers.normalize import country_code
from providers.simsmsbox import messages, mine, parse

log = logging.getLogger(__name__)

NAME = parse.NAME
RENTALS: tuple[int | None, ...] = (None, 7, 30)
MARKET = "/api/sms/shop/market"
MESSAGES = "/api/sms/orders/messages"
MINE = "/api/sms/orders/mine"
MESSAGES_PAGE = 20  # the document's example page size


class SimSmsBoxProvider(HttpProvider):
    """SimSmsBox: price-routed rentals of 1-30 days; see the module docstring for assumptions."""

    name = NAME
    can_cancel = False  # no cancel endpoint: a number once bought is paid for
    supports_another_code = True
    can_lookup = True
    can_renew = True
    can_list_active = True  # GET /api/sms/orders/mine, page by page

    default_url = "https://api.simsmsbox.com"
    key_header = "X-API-Key"
    raise_for = staticmethod(parse.raise_for)
    answers = object  # lists come bare too

    async def _list(self, path: str, **kwargs: object) -> list[object]:
        items = parse.unwrap_list(await self._json("GET", path, **kwargs))
        if items is None:
            raise errors.BadResponse(f"GET {path}: expected a list", provider=NAME)
        return items

    async def offers(self, country: str | None = None) -> list[Offer]:
        """Cheapest in-stock offer per (service, country), each as one-off, 7- and 30-day rental."""
        countries = parse.countries(await self._list("/api/sms/shop/countries"))
        if country is not None:
            countries = [c for c in countries if c[1] == country_code(country)]
        kinds = parse.card_kinds(await self._list("/api/sms/shop/number-types"))
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
        return parse.build_offers(markets, RENTALS)

    async def buy(self, offer: Offer) -> Purchase:
        """``POST /api/sms/orders/purchase`` with the market service code and card kind from ``product_id``."""
        service, _, kind = (offer.product_id or "").partition("|")
        days = offer.rent_days or 1
        if not service or not kind or not 1 <= days <= 30:
            raise errors.InvalidRequest("offer needs product_id 'service|cardKind' and 1-30 days", provider=NAME)
        payload = {"service": service, "country": offer.country, "cardKind": kind, "rentDays": days}
        bought = parse.purchase(await self._json("POST", "/api/sms/orders/purchase", paid=True, json=payload))
        if bought is None:
            raise errors.UnclearResult("purchase answer lacks an order id or phone", provider=NAME)
        log.info("%s: bought order %s (%s/%s, %s days)", NAME, bought.upstream_id, service, kind, days)
        return bought

    async def check(self, upstream_id: str) -> Status:
        """The order (state, ``latestCode``, ``expireAt``) and its messages' texts; see the docstring."""
        order_id = parse.order_ref(upstream_id)
        order = parse.order_view(await self._json("GET", f"/api/sms/orders/{quote(order_id, safe='')}"), order_id)
        return messages.status(order, await self._messages() if messages.arrived(order) else [])

    #: the pages of ``/mine`` and the messages read
    active_cost = mine.MAX_PAGES + 1

    async def active(self) -> dict[str, Status]:
        """Every order ``/orders/mine`` shows, page by page, each read as :meth:`check` reads it; the
        messages list is read once for all of them (see the module docstring)."""
        found = await mine.walk(lambda n: self._json("GET", MINE, params={"page": n, "pageSize": mine.PAGE_SIZE}))
        items = await self._messages() if any(messages.arrived(o) for o in found.values()) else []
        return {order_id: messages.status(order, items) for order_id, order in found.items()}

    async def _messages(self) -> list[object] | None:
        """The first page of every order's messages; None when unreadable, so that each code still
        reaches its user as ``latestCode`` alone. A 429 is raised: the guard must pause, not be kept unaware."""
        try:
            return await self._list(MESSAGES, params={"page": 1, "pageSize": MESSAGES_PAGE})
        except errors.RateLimited:
            raise
        except errors.ProviderError as exc:
            log.warning("%s: messages unreadable, latest codes only: %s", NAME, exc)
            return None

    async def another_code(self, upstream_id: str) -> None:
        """No-op: a rented number receives further codes for the same app by itself."""

    async def renew(self, upstream_id: str, days: int) -> datetime | None:
        """``POST /api/sms/orders/{id}/renew {"days"}``; the new ``expireAt`` when the answer has it."""
        if days < 1:
            raise errors.InvalidRequest("renew needs at least one day", provider=NAME)
        order_id = parse.order_ref(upstream_id)
        path = f"/api/sms/orders/{quote(order_id, safe='')}/renew"
        expires_at = parse.renewed(await self._json("POST", path, paid=True, json={"days": days}))
        log.info("%s: renewed order %s by %s days", NAME, order_id, days)
        return expires_at

    async def lookup(self, offer: Offer, since: datetime) -> Purchase | None:
        """The newest order in ``/orders/mine`` (first 20) for the offer created since ``since``."""
        items = await self._list(MINE, params={"page": 1, "pageSize": 20})
        return parse.newest_match(items, offer, since)

    async def cancel(self, upstream_id: str) -> None:
        """No-op: no cancel endpoint is documented; the rental lapses at expiry, its cost spent."""
        log.info("%s: no cancel endpoint; order %s lapses at expiry", NAME, parse.order_ref(upstream_id))

    async def balance(self) -> Balance:
        """``GET /api/sms/wallet/balance``: ``balance`` at the top level or under ``data``, USD by default."""
        return parse.balance(await self._json("GET", "/api/sms/wallet/balance"))
