"""An in-memory smscartesim API (``/api/v1``) built from its public document, as an httpx transport.

Same assumptions as :mod:`providers.smscartesim`: ``{"status": "success" | "error"}`` envelopes,
errors ``{"status": "error", "message", "code"?}`` with 401 / 402 / 404 / 422 statuses, services as a
list of items (or, with ``services_shape = "map"``, ``{country: {service: item}}``), orders under
``order``, SMS under ``messages`` with an ``order_status`` word. Prices are sent as JSON numbers.
``GET /sms`` without an id lists the numbers not yet expired or cancelled under ``data``, each as the
order ``POST /orders`` gave plus ``created_at`` and its ``messages`` as ``GET /sms?id=`` shows them (the
shape :meth:`SmsCartesimProvider.lookup` and :meth:`SmsCartesimProvider.active` assume).
``POST /messages`` sends from a number the fake sold and still holds (``from_sender``, else 404),
to a ``to_number`` of 7-15 digits after an optional ``+`` (else 422 ``invalid_number``), at
:attr:`FakeSmsCartesim.sms_price` (402 when the balance is short); it answers
``{"status": "success", "data": {"id", "status": "queued"}}`` and keeps the message in
:attr:`FakeSmsCartesim.messages`. A services item in :attr:`FakeSmsCartesim.rentals` carries
``rent_days``. ``/otp/*`` is not served (the adapter never calls it).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from tests.fakes.upstream import FakeUpstream, SoldNumber, dumps


@dataclass
class FakeOrder(SoldNumber):
    price: Decimal
    expires_at: datetime
    status: str = "active"
    messages: list[dict[str, object]] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def view(self) -> dict[str, object]:
        """The order as ``POST /orders`` and the active-numbers list show it."""
        data = {"id": int(self.id), "phone": self.phone, "service": self.service, "country": self.country}
        return data | {"price": self.price, "status": self.status, "expires_at": self.expires_at.isoformat()}


class FakeSmsCartesim(FakeUpstream):
    """Pass as ``transport=`` to :class:`providers.smscartesim.SmsCartesimProvider`."""

    def __init__(self, api_key: str = "test-key", root: str = "/api/v1") -> None:
        super().__init__(api_key)
        self.root = root
        self.balance = Decimal("50.00")
        # (service, country token) -> [name, price, stock]
        self.catalog: dict[tuple[str, str], list] = {
            ("wa", "us"): ["WhatsApp", Decimal("0.35"), 12],
            ("tg", "us"): ["Telegram", Decimal("1.20"), 3],
            ("wa", "uk"): ["WhatsApp", Decimal("0.50"), 0],
            ("go", "uk"): ["Google", Decimal("0.15"), 40],
        }
        self.services_shape = "list"  # or "map"
        self.rentals: dict[tuple[str, str], int] = {}  # (service, country token) -> rent_days on its item
        self.sms_price = Decimal("0.05")
        self.messages: list[dict[str, object]] = []  # what POST /messages sent
        self.orders: dict[str, FakeOrder] = {}
        self._ids = itertools.count(1001)

    # -- knobs ---------------------------------------------------------------------------------
    def sold(self) -> dict[str, object]:
        """The numbers sold and the messages sent: what a paid call created."""
        return {**self.orders, **{str(m["id"]): m for m in self.messages}}

    def refusal(self, status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, json={"status": "error", "message": message}, headers=headers)

    def add_sms(self, order_id: str, text: str, code: str | None = None, sender: str = "WhatsApp") -> None:
        order = self.orders[order_id]
        at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        order.messages.append({"text": text, "code": code, "from": sender, "received_at": at})
        order.status = "received"

    def fail_next(
        self, status: int, message: str, code: str | int | None = None, headers: dict[str, str] | None = None
    ) -> None:
        body: dict[str, object] = {"status": "error", "message": message}
        if code is not None:
            body["code"] = code
        self.respond_next(httpx.Response(status, json=body, headers=headers))

    # -- the API ---------------------------------------------------------------------------------
    @staticmethod
    def _ok(**fields: object) -> httpx.Response:
        text = dumps({"status": "success", **fields})
        return httpx.Response(200, text=text, headers={"Content-Type": "application/json"})

    @staticmethod
    def _error(status: int, message: str) -> httpx.Response:
        return httpx.Response(status, json={"status": "error", "message": message})

    def _handle(self, request: httpx.Request) -> httpx.Response:
        recorded = self.record(request)
        path, query, body = recorded.path, recorded.params, recorded.json
        if (planned := self.planned()) is not None:
            return planned
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Unauthenticated.")
        route = (request.method, path)
        if route == ("GET", "/user/balance"):
            return self._ok(balance=self.balance, currency="USD")
        if route == ("GET", "/services"):
            return self._services(query.get("country"))
        if route == ("POST", "/orders"):
            return self._order(body if isinstance(body, dict) else {})
        if route == ("GET", "/sms"):
            return self._sms(query.get("id"))
        if route == ("POST", "/messages"):
            return self._message(body if isinstance(body, dict) else {})
        return self._error(404, "Not found.")

    def _services(self, country: str | None) -> httpx.Response:
        rows = [(s, c, *v) for (s, c), v in self.catalog.items() if country in (None, c)]
        if self.services_shape == "map":
            by_country: dict[str, dict[str, object]] = {}
            for service, token, name, price, stock in rows:
                by_country.setdefault(token, {})[service] = {"name": name, "price": price, "stock": stock}
            return self._ok(services=by_country)
        items = [{"service": s, "name": n, "country": c, "price": p, "stock": k} for s, c, n, p, k in rows]
        for item in items:
            if days := self.rentals.get((str(item["service"]), str(item["country"]))):
                item["rent_days"] = days
        return self._ok(services=items)

    def _order(self, payload: dict[str, object]) -> httpx.Response:
        service, country = payload.get("service"), payload.get("country")
        if not service or not country:
            return self._error(422, "The service and country fields are required.")
        entry = self.catalog.get((str(service), str(country)))
        if entry is None:
            return self._error(422, "Invalid service or country.")
        if entry[2] <= 0:
            return self._error(404, "No numbers available for this service.")
        if self.balance < entry[1]:
            return self._error(402, "Insufficient balance.")
        self.balance -= entry[1]
        entry[2] -= 1
        n = next(self._ids)
        days = self.rentals.get((str(service), str(country)))
        expires = datetime.now(UTC).replace(microsecond=0) + (timedelta(days=days) if days else timedelta(minutes=20))
        order = FakeOrder(str(n), f"+1202555{n:04d}", str(service), str(country), entry[1], expires)
        self.orders[order.id] = order
        return self._ok(message="Number purchased successfully.", order=order.view())

    def _sms(self, order_id: str | None) -> httpx.Response:
        if order_id is None:  # the document: without an id, the list of active numbers
            now = datetime.now(UTC)
            active = [
                o.view() | {"created_at": o.created_at.isoformat(), "messages": o.messages}
                for o in self.orders.values()
                if o.status in ("active", "received") and o.expires_at > now
            ]
            return self._ok(data=active)
        order = self.orders.get(order_id)
        if order is None:
            return self._error(404, "Order not found.")
        return self._ok(id=order.id, phone=order.phone, order_status=order.status, messages=order.messages)

    def _message(self, payload: dict[str, object]) -> httpx.Response:
        sender, to, text = payload.get("from_sender"), payload.get("to_number"), payload.get("message")
        if not sender or not to or not text:
            return self._error(422, "The from sender, to number and message fields are required.")
        now = datetime.now(UTC)
        if not any(
            o.phone == sender and o.status in ("active", "received") and o.expires_at > now
            for o in self.orders.values()
        ):
            return self._error(404, "The sender is not one of your numbers.")
        if not re.fullmatch(r"\+?\d{7,15}", str(to)):
            return httpx.Response(
                422, json={"status": "error", "message": "Invalid phone number.", "code": "invalid_number"}
            )
        if self.balance < self.sms_price:
            return self._error(402, "Insufficient balance.")
        self.balance -= self.sms_price
        message_id = f"msg_{len(self.messages) + 1}"
        self.messages.append({"id": message_id, "from": sender, "to": to, "text": text, "type": payload.get("type")})
        return self._ok(data={"id": message_id, "status": "queued"})
