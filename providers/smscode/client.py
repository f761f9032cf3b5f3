"""Adapter for SMSCode (REST, ``/v1``), per ``../shared/providers/003_cf85d0e735d76252.txt``.

Endpoints used, all named by the document: ``GET /balance``, ``GET /catalog/products``,
``POST /orders``, ``GET /orders/{id}`` and ``POST /orders/{id}/cancel``. Every answer is
``{"success": true, "data": ...}`` or ``{"success": false, "error": {"code", "message"}}``.
Assumptions where the document is silent:

* ``GET /catalog/products`` answers ``data`` as a list of products (a ``{"products": [...]}``
  object is accepted too). A product has ``id`` (or ``product_id``), ``price`` in whole IDR, ``stock``
  (or ``available``), and names its country in ``country`` / ``country_name`` / ``country_code`` and
  its platform in ``platform`` / ``platform_name`` / ``service`` / ``service_name`` (a string, or an
  object with ``code`` / ``slug`` / ``name``). A product naming neither is skipped (debug log).
* ``offers(country)`` sends ``country=<English name, lower case>`` (``"ID"`` -> ``"indonesia"``, as in
  the document's example) and keeps only products whose country maps back to the asked code; without
  a country the whole catalog is fetched unfiltered. ``platform`` is never sent.
* ``Offer.product_id`` is ``str(id)``; ``buy`` sends it back as an integer when it is all digits (the
  document's example is ``{"product_id": 42}``), else as the string the catalog gave.
* The order answer may spell its id ``order_id`` / ``id`` / ``orderId`` and its phone ``phone_number`` /
  ``phone`` / ``number``; ``expires_at`` is ISO 8601 (a naive time is UTC). An optional ``price`` /
  ``cost`` (undocumented) fills ``Purchase.cost``.
* ``GET /orders/{id}`` carries one ``otp_code``: a follow-up SMS replaces it. ``check`` returns that one
  code as an Sms whose text is the answer's ``sms`` / ``message`` / ``text`` / ``sms_text`` when present,
  else ``"Code: <otp>"``, with ``received_at`` / ``otp_received_at`` when given. The bot stores SMS by
  text, so each new code is a new Sms. The code is kept in every state (also COMPLETED and CANCELLED).
  An unknown status word is logged and read as RECEIVED with a code, WAITING without.
* Follow-up codes arrive by themselves: ``supports_another_code`` is true and ``another_code`` is a
  no-op (the API has no call for it). ``finish`` is a no-op: orders complete upstream automatically.
* Cancelling refunds upstream only before the code; after it the cancel still succeeds, unrefunded.
  No error code for a refused cancel is documented, so none is mapped (an unknown code is BadResponse).
* ``balance`` reads ``data.balance`` in ``data.currency`` (IDR when absent). HTTP statuses are not
  documented: error codes map first (``parse.raise_for``); an answer without a known code maps 401/403 -> Unauthorized,
  5xx -> Unavailable, anything else -> BadResponse.
* ``POST /orders`` spends money: it is "not sold" only on a known refusal (the codes above, or a bare
  401/403/429). Any 5xx, even ``{"success": false, "error": {"code": "INTERNAL"}}``, a timeout after
  sending, or an error the table does not know is UnclearResult (:mod:`providers.http`).
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from providers import errors
from providers.base import Balance, Offer, Purchase, Status
from providers.http import HttpProvider
from providers.smscode import parse

log = logging.getLogger(__name__)

NAME = parse.NAME


class SMSCodeProvider(HttpProvider):
    """SMSCode: catalog products by country and platform, priced in IDR; see the module docstring."""

    name = NAME
    supports_another_code = True

    default_url = "https://api.smscode.gg/v1"
    raise_for = staticmethod(parse.raise_for)

    async def _call(self, method: str, path: str, *, paid: bool = False, **kwargs: object) -> object:
        """The answer's ``data`` after error mapping; an unreadable success on a paid call is unclear."""
        body = await self._json(method, path, paid=paid, **kwargs)
        if "data" not in body:
            bad = errors.UnclearResult if paid else errors.BadResponse
            raise bad(f"{method} {path}: no data in the answer", provider=NAME)
        return body["data"]

    async def offers(self, country: str | None = None) -> list[Offer]:
        """``GET /catalog/products`` (filtered by country when one is given), one Offer per product."""
        params = {"country": parse.country_query(country)} if country else None
        data = await self._call("GET", "/catalog/products", params=params)
        products = data.get("products") if isinstance(data, dict) else data
        if not isinstance(products, list):
            raise errors.BadResponse("catalog products are not a list", provider=NAME)
        offers = [offer for offer in map(parse.product_offer, products) if offer is not None]
        if country:
            offers = [o for o in offers if o.country == country.strip().upper()]
        return offers

    async def buy(self, offer: Offer) -> Purchase:
        """``POST /orders`` with the catalog's ``product_id``; never retried."""
        if not offer.product_id:
            raise errors.InvalidRequest("offer has no SMSCode product id", provider=NAME, code="no_product_id")
        product: int | str = int(offer.product_id) if offer.product_id.isdigit() else offer.product_id
        data = await self._call("POST", "/orders", paid=True, json={"product_id": product})
        bought = parse.purchase(data)
        log.info("%s: order %s for product %s (%s/%s)", NAME, bought.upstream_id, product, offer.service, offer.country)
        return bought

    async def check(self, upstream_id: str) -> Status:
        """``GET /orders/{id}``: the mapped state and the order's latest code, if any."""
        return parse.status(await self._call("GET", f"/orders/{quote(upstream_id, safe='')}"))

    async def cancel(self, upstream_id: str) -> None:
        """``POST /orders/{id}/cancel``; upstream refunds only when no code arrived yet."""
        await self._call("POST", f"/orders/{quote(upstream_id, safe='')}/cancel")
        log.info("%s: order %s cancelled", NAME, upstream_id)

    async def another_code(self, upstream_id: str) -> None:
        """No-op returning None: follow-up codes replace ``otp_code`` by themselves, no call is needed."""
        return None

    async def balance(self) -> Balance:
        """``GET /balance``: whole rupiah (or minor units of the currency the answer names)."""
        return parse.balance(await self._call("GET", "/balance"))
