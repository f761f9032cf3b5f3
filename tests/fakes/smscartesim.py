"""An in-memory smscartesim API (``/api/v1``) built from its public document, as an httpx transport.

Same assumptions as :mod:`providers.smscartesim`: ``{"status": "success" | "error"}`` envelopes,
errors ``{"status": "error", "message", "code"?}`` with 401 / 402 / 404 / 422 statuses, services as a
list of items (or, with ``services_shape = "map"``, ``{country: {service: item}}``), orders under
``order``, SMS under ``messages`` with an ``order_status`` word. Prices are sent as JSON numbers.
``GET /sms`` without an id lists the numbers not yet expired or cancelled under ``data``, each as the
order ``POST /orders`` gave plus ``created_at`` and its ``messages`` as ``GET /sms?id=`` shows them (the
shape :meth:`SmsCartesimProvider.lookup` and :meth:`SmsCartesimProvider.active` assume).
``/messages`` and ``/otp/*`` are not served (the adapter never calls them).
"""

from __future__ import annotations

import itertools
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
        self.orders: dict[str, FakeOrder] = {}
        self._ids = itertools.count(1001)

    # -- knobs ---------------------------------------------------------------------------------
    def sold(self) -> dict[str, FakeOrder]:
        return self.orders

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
        return self._error(404, "Not found.")

    def _services(self, country: str | None) -> httpx.Response:
        rows = [(s, c, *v) for (s, c), v in self.catalog.items() if country in (None, c)]
        if self.services_shape == "map":
            by_country: dict[str, dict[str, object]] = {}
            for service, token, name, price, stock in rows:
                by_country.setdefault(token, {})[service] = {"name": name, "price": price, "stock": stock}
            return self._ok(services=by_country)
        items = [{"service": s, "name": n, "country": c, "price": p, "stock": k} for s, c, n, p, k in rows]
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
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=20)
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
