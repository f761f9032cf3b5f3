"""An in-memory SMSX partner API (``/api/virtual-numbers.php?action=…``) as an httpx transport.

Same assumptions as :mod:`providers.smsx`: errors are ``{"ok": false, "error": …}``, SMSBower's words
pass through with HTTP 502, ``prices`` has the getPrices shape, ``status`` of an unknown id is ``unknown``
with ``raw: "NO_ACTIVATION"``. The partner's own error words (``unauthorized``, ``invalid_input``, …)
are guesses, mapped by the adapter through the HTTP status only. ``rent_number`` spends the partner
user's ``wallet`` (not ``smsbower_balance``): a wallet below the price answers
``402 insufficient_wallet_balance``, a guess too (the document names no such error).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from tests.fakes.upstream import FakeUpstream, SoldNumber, dumps

PATH = "/api/virtual-numbers.php"
_READS = {"balance", "wallet", "countries", "services", "prices", "status"}
_WRITES = {"rent_number", "cancel"}
_NEEDS_USER = {"wallet", "rent_number", "status", "cancel"}
_COUNTRIES = [{"id": 22, "eng": "India"}, {"id": 12, "eng": "USA (virtual)"}, {"id": 16, "eng": "United Kingdom"}]
_SERVICES = [{"code": "tg", "name": "Telegram"}, {"code": "wa", "name": "WhatsApp"}, {"code": "qq", "name": "Some App"}]
_PRICES = {(22, "tg"): ("0.35", 120), (22, "wa"): ("0.5", 8), (12, "tg"): ("1.10", 0), (16, "qq"): ("0.07", 40)}


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, text=dumps(body), headers={"Content-Type": "application/json", **(headers or {})})


def _error(status: int, error: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return _json(status, {"ok": False, "error": error}, headers)


@dataclass
class FakeActivation(SoldNumber):
    status: str = "waiting"  # waiting / received / cancelled
    otps: list[tuple[str, str | None]] = field(default_factory=list)  # (otp, text)
    raw: str | None = None  # when set, status answers "unknown" with this raw


@dataclass(frozen=True)
class Recorded:
    method: str
    action: str
    params: dict[str, str]  # the query without ``action``
    headers: dict[str, str]  # secrets replaced by "***"
    json: object


class FakeSmsx(FakeUpstream):
    """Pass as ``transport=`` to :class:`providers.smsx.SmsxProvider`."""

    def __init__(self, api_key: str = "test-key") -> None:
        super().__init__(api_key)
        self.countries: list[dict[str, object]] = [dict(c) for c in _COUNTRIES]
        self.services: list[dict[str, str]] = [dict(c) for c in _SERVICES]
        self.prices: dict[tuple[int, str], tuple[str, int]] = dict(_PRICES)  # (id, code) -> (cost, count)
        self.smsbower_balance = "12.34"  # the partner's own SMSBower funds: renting never touches them
        self.currency: str | None = None  # named in the balance answer when set
        self.wallet = Decimal("5.00")  # the partner user's wallet on the site: what rent_number spends
        self.wallet_currency: str | None = None  # named in the wallet answer when set
        self.rent_cost: str | None = None  # when set, a ``cost`` number in the rent_number answer
        self.partner_user_configured = True  # False: 503 partner_user_not_configured
        self.api_keys_configured = True  # False: every request 503
        self.no_balance = False  # rent_number answers NO_BALANCE
        self.deny_early_cancel = False  # cancel answers EARLY_CANCEL_DENIED
        self.activations: dict[str, FakeActivation] = {}
        self._ids = itertools.count(5_000_001)

    def deliver_otp(self, activation_id: str, otp: str, text: str | None = None) -> None:
        self.activations[activation_id].otps.append((otp, text))
        self.activations[activation_id].status = "received"

    def set_raw(self, activation_id: str, raw: str) -> None:  # status: unknown, raw[:100]
        self.activations[activation_id].raw = raw

    def sold(self) -> dict[str, FakeActivation]:
        return self.activations

    def refusal(self, status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return _error(status, message, headers)

    def fail_next(self, status: int, error: str, headers: dict[str, str] | None = None) -> None:
        self.respond_next(_error(status, error, headers))

    def _handle(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        action = params.pop("action", "")
        headers = {k: ("***" if k.lower() in {"authorization", "x-api-key"} else v) for k, v in request.headers.items()}
        try:
            payload = json.loads(request.content, parse_float=Decimal) if request.content else None
        except ValueError:
            payload = "<not JSON>"
        self.requests.append(Recorded(request.method, action, params, headers, payload))
        if (planned := self.planned()) is not None:
            return planned
        if request.url.path != PATH:
            return httpx.Response(404, text="<html>Not Found</html>", headers={"Content-Type": "text/html"})
        key = self.api_key
        authorized = request.headers.get("X-API-Key") == key or request.headers.get("Authorization") == f"Bearer {key}"
        refusals = (
            (not self.api_keys_configured, 503, "no_api_keys_configured"),
            (not authorized, 401, "unauthorized"),  # either header, as documented
            (action not in _READS | _WRITES, 400, "unknown_action"),
            (request.method != ("POST" if action in _WRITES else "GET"), 405, "method_not_allowed"),
            (action in _NEEDS_USER and not self.partner_user_configured, 503, "partner_user_not_configured"),
            (action in _WRITES and not isinstance(payload, dict), 400, "invalid_input"),
        )
        for refused, status, error in refusals:
            if refused:
                return _error(status, error)
        if action in {"balance", "wallet", "countries", "services"}:
            return self._plain(action)
        return getattr(self, f"_{action}")(params if payload is None else payload)

    def _plain(self, action: str) -> httpx.Response:
        bodies: dict[str, dict[str, object]] = {
            "balance": {"smsbower_balance": Decimal(self.smsbower_balance), "api_id": 3},
            "wallet": {"balance": self.wallet, "user_id": 42},
            "countries": {"countries": self.countries},
            "services": {"services": self.services},
        }
        if self.currency:
            bodies["balance"]["currency"] = self.currency
        if self.wallet_currency:
            bodies["wallet"]["currency"] = self.wallet_currency
        return _json(200, {"ok": True, **bodies[action]})

    def _prices(self, params: dict[str, str]) -> httpx.Response:
        country, service = params.get("country"), params.get("service")
        prices: dict[str, dict[str, object]] = {}
        for (cid, code), (cost, count) in self.prices.items():
            if country in (None, str(cid)) and service in (None, code):
                prices.setdefault(str(cid), {})[code] = {"cost": Decimal(cost), "count": count}
        return _json(200, {"ok": True, "prices": prices, "upstream_action": "getPrices"})

    def _rent_number(self, payload: dict[str, object]) -> httpx.Response:
        service, country = payload.get("service"), payload.get("country")
        if not isinstance(service, str) or not isinstance(country, int) or isinstance(country, bool):
            return _error(400, "invalid_input")
        if service not in {s["code"] for s in self.services}:
            return _error(502, "BAD_SERVICE")
        if country not in {c["id"] for c in self.countries}:
            return _error(502, "WRONG_COUNTRY_ID")
        if self.no_balance:
            return _error(502, "NO_BALANCE")
        cost, count = self.prices.get((country, service), ("0", 0))
        if count <= 0:
            return _error(502, "NO_NUMBERS")
        if self.wallet < Decimal(cost):
            return _error(402, "insufficient_wallet_balance")
        self.wallet -= Decimal(cost)
        self.prices[(country, service)] = (cost, count - 1)
        n = next(self._ids)
        activation = FakeActivation(str(n), f"9198765{n % 100000:05d}", service, country)
        self.activations[activation.id] = activation
        body: dict[str, object] = {"ok": True, "activation_id": n, "phone": activation.phone, "api_id": 3}
        if self.rent_cost is not None:
            body["cost"] = Decimal(self.rent_cost)
        return _json(200, body)

    def _status(self, params: dict[str, str]) -> httpx.Response:
        activation = self.activations.get(params.get("id", ""))
        if activation is None or activation.raw is not None:  # what SMSBower said, truncated
            raw = activation.raw[:100] if activation and activation.raw else "NO_ACTIVATION"
            return _json(200, {"ok": True, "status": "unknown", "raw": raw})
        otp, text = activation.otps[-1] if activation.otps else (None, None)
        body = {"ok": True, "status": activation.status, "otp": otp, "sms": text}
        return _json(200, {k: v for k, v in body.items() if v is not None})

    def _cancel(self, payload: dict[str, object]) -> httpx.Response:
        activation = self.activations.get(str(payload.get("id", "")))
        if activation is None:
            return _error(502, "NO_ACTIVATION")
        if activation.status == "received":
            return _error(502, "BAD_STATUS")
        if self.deny_early_cancel:
            return _error(502, "EARLY_CANCEL_DENIED")
        activation.status = "cancelled"
        return _json(200, {"ok": True})
