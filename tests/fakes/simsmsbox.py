"""An in-memory SimSmsBox API built from its public document, as an httpx transport.

Same assumptions as :mod:`providers.simsmsbox`: answers are ``{"code": 0, "data": ...}`` (lists as
``data`` or ``data.items``), errors ``{"code": "<WORD>", "message": ...}`` with an HTTP status
("no available platform" when stock is 0, "Insufficient balance"), prices are per day.
``GET /api/sms/orders/messages`` lists every order's messages, newest first, each
``{"id", "orderId", "displayOrderNo", "phone", "from", "content", "receivedAt"}`` (no code: the
order's ``latestCode`` is the code); :attr:`FakeSimSmsBox.messages_answer` replaces its answer.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from tests.fakes.upstream import FakeUpstream, dumps

_ORDER = re.compile(r"^/api/sms/orders/(?P<id>[^/]+?)(?P<renew>/renew)?$")


@dataclass
class FakeItem:
    service: str
    service_name: str
    price: Decimal  # per day
    stock: int
    provider: str = "up-a"


@dataclass
class FakeOrder:
    id: int
    phone: str
    service: str
    country: str
    card_kind: str
    price: Decimal
    binding_key: str
    expire_at: datetime
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: str = "active"
    codes: list[str] = field(default_factory=list)
    messages: list[dict[str, object]] = field(default_factory=list)  # oldest first

    def view(self) -> dict[str, object]:
        return {
            "orderId": self.id,
            "displayOrderNo": f"S2606{self.id:06d}",
            "phone": self.phone,
            "service": self.service,
            "country": self.country,
            "cardKind": self.card_kind,
            "status": self.status,
            "latestCode": self.codes[-1] if self.codes else None,
            "expireAt": _iso(self.expire_at),
            "createdAt": _iso(self.created_at),
            "apiBindingKey": self.binding_key,
        }


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ok(data: object) -> httpx.Response:
    text = dumps({"code": 0, "data": data})
    return httpx.Response(200, text=text, headers={"Content-Type": "application/json"})


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message})


class FakeSimSmsBox(FakeUpstream):
    """Pass as ``transport=`` to :class:`providers.simsmsbox.SimSmsBoxProvider`."""

    secret_headers = frozenset({"x-api-key"})

    def __init__(self, api_key: str = "psk_test") -> None:
        super().__init__(api_key)
        self.countries = [
            {"flag": "🇺🇸", "name": "United States", "code": "US", "serviceCount": 3},
            {"flag": "🇬🇧", "name": "United Kingdom", "code": "GB", "serviceCount": 1},
        ]
        self.number_types = [{"code": "physical", "name": "Physical SIM"}, {"code": "virtual", "name": "Virtual"}]
        self.market: dict[tuple[str, str], list[FakeItem]] = {
            ("US", "physical"): [
                FakeItem("instagram", "Instagram", Decimal("0.50"), 9, "up-b"),
                FakeItem("instagram", "Instagram", Decimal("0.35"), 5),
                FakeItem("wa", "WhatsApp", Decimal("1.20"), 0),
                FakeItem("wa", "WhatsApp", Decimal("1.50"), 3, "up-b"),
                FakeItem("telegram", "Telegram", Decimal("0.80"), 0),
            ],
            ("US", "virtual"): [
                FakeItem("instagram", "Instagram", Decimal("0.20"), 0),
                FakeItem("google", "Google", Decimal("0.10"), 2),
            ],
            ("GB", "physical"): [FakeItem("instagram", "Instagram", Decimal("0.60"), 1)],
            ("GB", "virtual"): [],
        }
        self.balance = Decimal("10.00")
        self.orders: dict[int, FakeOrder] = {}
        self.latency = 0.0  # seconds per request, to observe concurrency
        self.messages_answer: httpx.Response | None = None  # when set, the messages list answers this
        self._message_ids = itertools.count(1)
        self.in_flight = self.max_in_flight = 0
        self._ids = itertools.count(19)

    # -- knobs ---------------------------------------------------------------------------------
    def sold(self) -> dict[int, FakeOrder]:
        return self.orders

    def refusal(self, status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, json={"message": message}, headers=headers)

    def deliver_code(self, order_id: int, code: str, text: str | None = None, sender: str = "WhatsApp") -> None:
        """An SMS reaches the order: its ``latestCode`` and one more item in the messages list."""
        order = self.orders[order_id]
        order.codes.append(code)
        order.status = "received"
        at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=len(order.messages))
        order.messages.append(
            {
                "id": next(self._message_ids),
                "orderId": order.id,
                "displayOrderNo": f"S2606{order.id:06d}",
                "phone": order.phone,
                "from": sender,
                "content": text or f"Your verification code is {code}. Do not share it.",
                "receivedAt": _iso(at),
            }
        )

    def fail_next(
        self, status: int, code: str | None, message: str = "", headers: dict[str, str] | None = None
    ) -> None:
        """Answer ``{"code", "message"}``, or ``{"error": message}`` when ``code`` is None."""
        body = {"error": message} if code is None else {"code": code, "message": message or f"{code} (fake)"}
        self.respond_next(httpx.Response(status, json=body, headers=headers))

    # -- the API ---------------------------------------------------------------------------------
    async def _handle(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
            return self._answer(request)
        finally:
            self.in_flight -= 1

    def _answer(self, request: httpx.Request) -> httpx.Response:
        recorded = self.record(request)
        path, params, payload = recorded.path, recorded.params, recorded.json
        if (planned := self.planned()) is not None:
            return planned
        if path == "/api/sms/record":  # authorised by the binding key alone
            return self._record(params)
        if request.headers.get("X-API-Key") != self.api_key:
            return _error(401, "UNAUTHORIZED", "invalid api key")
        body = payload if isinstance(payload, dict) else {}
        route = (request.method, path)
        if route == ("GET", "/api/sms/shop/countries"):
            return _ok(self.countries)
        if route == ("GET", "/api/sms/shop/number-types"):
            return _ok(self.number_types)
        if route == ("GET", "/api/sms/shop/market"):
            items = self.market.get((params.get("country", "").upper(), params.get("cardKind", "")), [])
            return _ok({"items": [self._item(i) for i in sorted(items, key=lambda i: i.price)]})
        if route == ("POST", "/api/sms/orders/purchase"):
            return self._purchase(body)
        if route == ("GET", "/api/sms/orders/mine"):
            page, size = int(params.get("page", 1)), int(params.get("pageSize", 20))
            mine = sorted(self.orders.values(), key=lambda o: (o.created_at, o.id), reverse=True)
            return _ok({"items": [o.view() for o in mine[(page - 1) * size : page * size]], "total": len(mine)})
        if route == ("GET", "/api/sms/orders/messages"):
            if self.messages_answer is not None:
                return self.messages_answer
            page, size = int(params.get("page", 1)), int(params.get("pageSize", 20))
            every = [m for o in self.orders.values() for m in o.messages]
            every.sort(key=lambda m: (str(m["receivedAt"]), int(str(m["id"]))), reverse=True)
            return _ok({"items": every[(page - 1) * size : page * size], "total": len(every)})
        if route == ("GET", "/api/sms/wallet/balance"):
            return _ok({"balance": self.balance, "frozenAmount": 0, "totalRecharge": 20, "totalConsume": 0})
        match = _ORDER.match(path)
        order = self._find(match["id"]) if match else None
        if match and order is None:
            return _error(404, "NOT_FOUND", "order not found")
        if order and match["renew"] and request.method == "POST":
            return self._renew(order, body.get("days"))
        if order and request.method == "GET":
            return _ok(order.view())
        return _error(404, "NOT_FOUND", "no such endpoint")

    @staticmethod
    def _item(item: FakeItem) -> dict[str, object]:
        names = {"service": item.service, "serviceName": item.service_name, "provider": item.provider}
        return names | {"price": item.price, "stock": item.stock, "currency": "USD"}

    def _find(self, ref: str) -> FakeOrder | None:
        if ref.isdigit():
            return self.orders.get(int(ref))
        return next((o for o in self.orders.values() if f"S2606{o.id:06d}" == ref), None)

    def _purchase(self, body: dict[str, object]) -> httpx.Response:
        service, country = str(body.get("service", "")).lower(), str(body.get("country", "")).upper()
        kind, days = body.get("cardKind"), body.get("rentDays")
        if not isinstance(days, int) or not 1 <= days <= 30:
            return _error(400, "BAD_REQUEST", "rentDays must be between 1 and 30")
        items = self.market.get((country, str(kind)), [])
        live = [i for i in items if service in (i.service, i.service_name.lower()) and i.stock > 0]
        if not live:
            return _error(400, "NO_AVAILABLE_PLATFORM", "no available platform")
        item = min(live, key=lambda i: i.price)
        if item.price * days > self.balance:
            return _error(400, "INSUFFICIENT_BALANCE", "Insufficient balance")
        item.stock -= 1
        self.balance -= item.price * days
        n = next(self._ids)
        expire = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
        order = FakeOrder(
            n, f"+1202555{n:04d}", item.service, country, str(kind), item.price, f"psk_orderkey_{n}x7Q", expire
        )
        self.orders[n] = order
        keys = ("orderId", "displayOrderNo", "phone", "expireAt", "apiBindingKey")
        return _ok({k: order.view()[k] for k in keys} | {"price": item.price * days})

    def _renew(self, order: FakeOrder, days: object) -> httpx.Response:
        if not isinstance(days, int) or days < 1:
            return _error(400, "BAD_REQUEST", "days must be positive")
        if order.price * days > self.balance:
            return _error(400, "INSUFFICIENT_BALANCE", "Insufficient balance")
        self.balance -= order.price * days
        order.expire_at += timedelta(days=days)
        return _ok({"orderId": order.id, "expireAt": _iso(order.expire_at)})

    def _record(self, params: dict[str, str]) -> httpx.Response:
        order = next((o for o in self.orders.values() if o.binding_key == params.get("key")), None)
        if order is None:
            return _error(404, "NOT_FOUND", "invalid key")
        latest = order.codes[-1] if order.codes else None
        if params.get("format") == "txt":
            return httpx.Response(
                200, text=f"YES|{latest}" if latest else "NO|", headers={"Content-Type": "text/plain"}
            )
        return _ok(
            {"phone": order.phone, "hasCode": latest is not None, "code": latest, "expireAt": _iso(order.expire_at)}
        )
