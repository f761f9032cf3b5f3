"""An in-memory iSMScode API (``/api/v3``) built from its public document, as an httpx transport.

Same assumptions as :mod:`providers.ismscode`: out of stock on ``/numbers/request`` is the error
table's ``404 no_numbers_available``; an unknown number id on ``/numbers/:id/sms`` answers
``404 not_found`` (the document is silent there); a number carries a ``price`` only when
:attr:`FakeISMSCode.price` is set.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from tests.fakes.upstream import FakeUpstream, SoldNumber

_SMS_PATH = re.compile(r"^/numbers/(?P<id>[^/]+)/sms$")


@dataclass
class FakeNumber(SoldNumber):
    expires_at: datetime
    sms: list[dict[str, str]] = field(default_factory=list)


class FakeISMSCode(FakeUpstream):
    """Pass as ``transport=`` to :class:`providers.ismscode.ISMSCodeProvider`."""

    secret_headers = frozenset({"authorization", "api-key"})

    def __init__(self, api_key: str = "test-key", root: str = "/api/v3") -> None:
        super().__init__(api_key)
        self.root = root
        self.countries = [
            {"code": "US", "name": "United States", "prefix": "+1"},
            {"code": "GB", "name": "United Kingdom", "prefix": "+44"},
            {"code": "CA", "name": "Canada", "prefix": "+1"},
        ]
        self.services = ["whatsapp", "telegram", "google"]
        self.numbers: dict[str, FakeNumber] = {}
        self.out_of_stock: set[tuple[str, str]] = set()  # (service, country)
        self.price: str | None = None  # when set, sent as a JSON number in the purchase answer
        self._ids = itertools.count(1)

    # -- knobs ---------------------------------------------------------------------------------
    def sold(self) -> dict[str, FakeNumber]:
        return self.numbers

    def refusal(self, status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, json={"status": "error", "message": message}, headers=headers)

    def add_sms(self, number_id: str, text: str, sender: str = "+447123456789") -> None:
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.numbers[number_id].sms.append({"from": sender, "text": text, "received_at": at})

    def fail_next(self, status: int, code: str, message: str = "", headers: dict[str, str] | None = None) -> None:
        body = {"status": "error", "code": code, "message": message or f"{code} (fake)"}
        self.respond_next(httpx.Response(status, json=body, headers=headers))

    # -- the API ---------------------------------------------------------------------------------
    @staticmethod
    def _error(status: int, code: str, message: str) -> httpx.Response:
        return httpx.Response(status, json={"status": "error", "code": code, "message": message})

    def _authorized(self, request: httpx.Request) -> bool:
        bearer = request.headers.get("Authorization", "")
        return bearer == f"Bearer {self.api_key}" or request.headers.get("API-Key") == self.api_key

    def _handle(self, request: httpx.Request) -> httpx.Response:
        recorded = self.record(request)
        path, payload = recorded.path, recorded.json
        if (planned := self.planned()) is not None:
            return planned
        if not self._authorized(request):
            return self._error(401, "unauthorized", "No valid API key provided.")
        if request.method == "GET" and path == "/countries":
            return httpx.Response(200, json={"status": "success", "countries": self.countries})
        if request.method == "GET" and path == "/services":
            return httpx.Response(200, json={"status": "success", "services": self.services})
        if request.method == "POST" and path == "/numbers/request":
            return self._request_number(payload if isinstance(payload, dict) else {})
        match = _SMS_PATH.match(path)
        if request.method == "GET" and match:
            number = self.numbers.get(match["id"])
            if number is None:
                return self._error(404, "not_found", "Number not found.")
            return httpx.Response(200, json={"status": "success", "sms": list(number.sms)})
        return self._error(404, "not_found", "No such endpoint.")

    def _request_number(self, payload: dict[str, object]) -> httpx.Response:
        country, service = payload.get("country"), payload.get("service")
        if country not in {c["code"] for c in self.countries}:
            return self._error(400, "invalid_country", "Unknown country.")
        if service not in self.services:
            return self._error(400, "invalid_service", "Unknown service.")
        if (service, country) in self.out_of_stock:
            return self._error(404, "no_numbers_available", "Out of stock.")
        n = next(self._ids)
        number = FakeNumber(
            id=f"num_{n:06d}",
            phone=f"+1202555{n:04d}",
            country=str(country),
            service=str(service),
            expires_at=datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=15),
        )
        self.numbers[number.id] = number
        data: dict[str, object] = {
            "id": number.id,
            "phone": number.phone,
            "country": number.country,
            "service": number.service,
            "expires_at": number.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        text = json.dumps({"status": "success", "number": data})
        if self.price is not None:  # splice the raw number in, so it reaches the client as written
            text = text[:-2] + f', "price": {self.price}}}}}'
        return httpx.Response(200, text=text, headers={"Content-Type": "application/json"})
