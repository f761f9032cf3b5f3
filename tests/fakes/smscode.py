"""An in-memory SMSCode API (``/v1``) built from its public document, as an httpx transport.

Same assumptions as :mod:`providers.smscode`: products carry ``id``, ``country``, ``platform``,
``price`` (whole IDR, sent as a raw JSON number) and ``stock``; an order answer carries
``otp_code`` (and ``sms`` / ``received_at``) once a code arrived, a follow-up code replacing them.
The account balance (IDR) is debited on order and refunded on a cancel before the code only.
Undocumented, chosen here: HTTP statuses of errors (401, 402, 409, 404, 429); cancelling an order
already closed answers its state unchanged; an expiry leaves the balance alone.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from tests.fakes.upstream import FakeUpstream, dumps

_ORDER_PATH = re.compile(r"^/orders/(?P<id>[^/]+)(?P<cancel>/cancel)?$")


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeOrder:
    order_id: str
    product_id: int | str
    phone: str
    price: Decimal
    expires_at: datetime
    status: str = "WAITING"
    otp_code: str | None = None
    sms: str | None = None
    received_at: datetime | None = None


class FakeSMSCode(FakeUpstream):
    """Pass as ``transport=`` to :class:`providers.smscode.SMSCodeProvider`."""

    def __init__(self, api_key: str = "test-key", root: str = "/v1") -> None:
        super().__init__(api_key)
        self.root = root
        self.balance = Decimal("150000")
        self.products: list[dict[str, object]] = [
            {"id": 42, "country": "indonesia", "platform": "whatsapp", "price": Decimal("3500"), "stock": 5},
            {"id": 43, "country": "indonesia", "platform": "telegram", "price": Decimal("4200"), "stock": 0},
            {"id": 57, "country": "russia", "platform": "google", "price": Decimal("2800"), "stock": 12},
        ]
        self.orders: dict[str, FakeOrder] = {}
        self._ids = itertools.count(1)

    # -- knobs ---------------------------------------------------------------------------------
    def sold(self) -> dict[str, FakeOrder]:
        return self.orders

    def refusal(self, status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, json={"success": False, "error": {"message": message}}, headers=headers)

    def deliver_otp(self, order_id: str, code: str, text: str | None = None) -> None:
        """An SMS arrives: ``otp_code`` (and ``sms`` when ``text`` is given) replace the previous ones."""
        order = self.orders[order_id]
        order.status, order.otp_code, order.sms = "OTP_RECEIVED", code, text
        order.received_at = datetime.now(UTC).replace(microsecond=0)

    def complete(self, order_id: str) -> None:
        self.orders[order_id].status = "COMPLETED"

    def expire(self, order_id: str) -> None:
        self.orders[order_id].status = "EXPIRED"

    def fail_next(self, status: int, code: str, message: str = "", headers: dict[str, str] | None = None) -> None:
        body = {"success": False, "error": {"code": code, "message": message or f"{code} (fake)"}}
        self.respond_next(httpx.Response(status, json=body, headers=headers))

    # -- the API ---------------------------------------------------------------------------------
    @staticmethod
    def _ok(data: object) -> httpx.Response:
        return httpx.Response(200, text=dumps({"success": True, "data": data}))

    @staticmethod
    def _error(status: int, code: str, message: str) -> httpx.Response:
        return httpx.Response(status, json={"success": False, "error": {"code": code, "message": message}})

    def _handle(self, request: httpx.Request) -> httpx.Response:
        recorded = self.record(request)
        path, payload = recorded.path, recorded.json
        if (planned := self.planned()) is not None:
            return planned
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "UNAUTHORIZED", "Invalid or missing token")
        if request.method == "GET" and path == "/balance":
            return self._ok({"currency": "IDR", "balance": self.balance})
        if request.method == "GET" and path == "/catalog/products":
            return self._ok(self._catalog(dict(request.url.params)))
        if request.method == "POST" and path == "/orders":
            return self._create(payload if isinstance(payload, dict) else {})
        match = _ORDER_PATH.match(path)
        order = self.orders.get(match["id"]) if match else None
        if match and order is None:
            return self._error(404, "ORDER_NOT_FOUND", "Order not found")
        if order is not None and request.method == "GET" and not match["cancel"]:
            return self._ok(self._view(order))
        if order is not None and request.method == "POST" and match["cancel"]:
            return self._cancel(order)
        return self._error(404, "NOT_FOUND", "No such endpoint")

    def _catalog(self, params: dict[str, str]) -> list[dict[str, object]]:
        wanted = {k: params[k].lower() for k in ("country", "platform") if k in params}
        return [p for p in self.products if all(str(p.get(k, "")).lower() == v for k, v in wanted.items())]

    def _create(self, payload: dict[str, object]) -> httpx.Response:
        product = next((p for p in self.products if p["id"] == payload.get("product_id")), None)
        if product is None or int(product["stock"]) <= 0:  # type: ignore[call-overload]
            return self._error(409, "PRODUCT_UNAVAILABLE", "Stock ran out")
        price = Decimal(str(product["price"]))
        if self.balance < price:
            return self._error(402, "INSUFFICIENT_BALANCE", "Account balance is too low to place this order.")
        product["stock"] = int(product["stock"]) - 1  # type: ignore[call-overload]
        self.balance -= price
        n = next(self._ids)
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
        order = FakeOrder(f"ord_{n:06d}", product["id"], f"+6281234{n:05d}", price, expires)  # type: ignore[arg-type]
        self.orders[order.order_id] = order
        return self._ok(self._view(order))

    def _cancel(self, order: FakeOrder) -> httpx.Response:
        if order.status in ("WAITING", "OTP_RECEIVED"):
            if order.status == "WAITING":  # refund only before the code
                self.balance += order.price
            order.status = "CANCELLED"
        return self._ok(self._view(order))

    @staticmethod
    def _view(order: FakeOrder) -> dict[str, object]:
        data: dict[str, object] = {
            "order_id": order.order_id,
            "phone_number": order.phone,
            "status": order.status,
            "expires_at": _stamp(order.expires_at),
        }
        if order.otp_code is not None:
            data["otp_code"] = order.otp_code
            if order.sms is not None:
                data["sms"] = order.sms
            if order.received_at is not None:
                data["received_at"] = _stamp(order.received_at)
        return data
