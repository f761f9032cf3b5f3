"""An in-memory sms-activate ``handler_api.php`` upstream, as an httpx transport.

Built from the same de facto protocol as :mod:`providers.smsactivate`: every request is a ``GET``
of the handler path with ``api_key`` and ``action`` in the query; replies are plain text (``200``)
or JSON. A wrong key answers ``BAD_KEY``, an unknown action ``BAD_ACTION``. Prices go out as raw
JSON numbers (``0.35``, not ``"0.35"``), in the ``cost``/``count`` shape or, with
``price_shape = "v2"``, as ``{price: count}`` tiers. ``getActiveActivations`` lists the activations
neither finished nor cancelled as JSON (``smsCode`` every code so far, oldest first; ``smsText`` a
full text the adapter leaves aside), or answers ``NO_ACTIVATIONS`` when there are none.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from tests.fakes.upstream import FakeUpstream, SoldNumber, dumps

HANDLER_PATH = "/stubs/handler_api.php"
_STATUS_WORDS = {"wait_code": "STATUS_WAIT_CODE", "wait_resend": "STATUS_WAIT_RESEND", "cancel": "STATUS_CANCEL"}
#: ``activationStatus`` in ``getActiveActivations``: the ``setStatus`` number of the activation's state
_ACTIVATION_STATUS = {
    "wait_code": "1",
    "wait_retry": "3",
    "wait_resend": "1",
    "ok": "2",
    "finished": "6",
    "cancel": "8",
}


@dataclass
class FakeActivation(SoldNumber):
    cost: Decimal
    state: str = "wait_code"  # wait_code | wait_retry | wait_resend | ok | finished | cancel
    codes: list[str] = field(default_factory=list)
    ready: bool = False


@dataclass(frozen=True)
class Recorded:
    path: str
    action: str
    params: dict[str, str]  # the query, with api_key replaced by "***"


class FakeSmsActivate(FakeUpstream):
    """Pass as ``transport=`` to :class:`providers.smsactivate.SmsActivateProvider`."""

    def __init__(self, api_key: str = "test-key", path: str = HANDLER_PATH, balance: str = "100.00") -> None:
        super().__init__(api_key)
        self.path = path
        self.countries: dict[int, dict[str, object]] = {
            cid: {"id": cid, "rus": rus, "eng": eng, "chn": chn, "visible": 1, "retry": 1, "rent": 0}
            for cid, rus, eng, chn in [
                (0, "Россия", "Russia", "俄罗斯"),
                (6, "Индонезия", "Indonesia", "印度尼西亚"),
                (187, "США", "USA", "美国"),
                (250, "Косово", "Kosovo", "科索沃"),  # an id normalize.country_code does not know
            ]
        }
        #: country id -> service code -> [cost, count]
        self.prices: dict[int, dict[str, list]] = {
            0: {"wa": [Decimal("0.35"), 120], "tg": [Decimal("0.50"), 3]},
            6: {"wa": [Decimal("0.12"), 500], "go": [Decimal("0.08"), 0]},
            187: {"tg": [Decimal("1.20"), 40]},
            250: {"wa": [Decimal("0.20"), 7]},
        }
        self.price_shape = "v1"
        self.balance = Decimal(balance)
        self.activations: dict[str, FakeActivation] = {}
        self.json_errors: str | None = None  # "error" | "message" | "title": wrap error words in JSON
        self.banned_until: str | None = None  # when set, every request answers BANNED:<until>
        self.early_cancel_denied = False
        self._ids = itertools.count(1000001)

    # -- knobs ---------------------------------------------------------------------------------
    def sold(self) -> dict[str, FakeActivation]:
        return self.activations

    def refusal(self, status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, text=message, headers=headers)

    def deliver_code(self, activation_id: str, code: str) -> None:
        activation = self.activations[activation_id]
        activation.codes.append(code)
        activation.state = "ok"

    def fail_next(self, word: str) -> None:
        """Answer the next request with the error ``word`` (JSON-wrapped when ``json_errors``)."""
        self.respond_next(self._error(word))

    def reply_next(self, text: str, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.respond_next(httpx.Response(status, text=text, headers=headers))

    def actions(self) -> list[str]:
        return [r.action for r in self.requests]

    # -- the API ---------------------------------------------------------------------------------
    def _error(self, word: str) -> httpx.Response:
        if self.json_errors is None:
            return httpx.Response(200, text=word)
        body = {"status": "error", "error": word} if self.json_errors == "error" else {self.json_errors: word}
        return httpx.Response(200, json=body)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        shown = {k: ("***" if k == "api_key" else v) for k, v in params.items()}
        self.requests.append(Recorded(request.url.path, params.get("action", ""), shown))
        if (planned := self.planned()) is not None:
            return planned
        if request.method != "GET" or request.url.path != self.path:
            return httpx.Response(404, text="<html><body>404 Not Found</body></html>")
        if params.get("api_key") != self.api_key:
            return self._error("BAD_KEY")
        if self.banned_until is not None:
            return self._error(f"BANNED:{self.banned_until}")
        handlers = {
            "getBalance": lambda p: httpx.Response(200, text=f"ACCESS_BALANCE:{self.balance}"),
            "getCountries": lambda p: httpx.Response(200, text=dumps(self.countries)),
            "getPrices": self._get_prices,
            "getNumber": self._get_number,
            "getNumberV2": self._get_number,
            "getStatus": self._get_status,
            "setStatus": self._set_status,
            "getActiveActivations": self._get_active,
        }
        handler = handlers.get(params.get("action", ""))
        return handler(params) if handler else self._error("BAD_ACTION")

    def _get_prices(self, params: dict[str, str]) -> httpx.Response:
        body: dict[str, dict[str, object]] = {}
        for cid, services in self.prices.items():
            if params.get("country") not in (None, str(cid)):
                continue
            for code, (cost, count) in services.items():
                if params.get("service") in (None, code):
                    entry = {"cost": cost, "count": count} if self.price_shape == "v1" else {str(cost): count}
                    body.setdefault(str(cid), {})[code] = entry
        return httpx.Response(200, text=dumps(body), headers={"Content-Type": "application/json"})

    def _get_number(self, params: dict[str, str]) -> httpx.Response:
        country, service = params.get("country", "0"), params.get("service", "")
        if not country.isdigit() or int(country) not in self.countries:
            return self._error("WRONG_COUNTRY_ID")
        if not any(service in services for services in self.prices.values()):
            return self._error("BAD_SERVICE")
        offer = self.prices.get(int(country), {}).get(service)
        if offer is None or offer[1] <= 0:
            return self._error("NO_NUMBERS")
        cost = offer[0]
        if "maxPrice" in params and Decimal(params["maxPrice"]) < cost:
            return self._error(f"WRONG_MAX_PRICE:{cost}")
        if self.balance < cost:
            return self._error("NO_BALANCE")
        self.balance -= cost
        offer[1] -= 1
        n = next(self._ids)
        activation = FakeActivation(str(n), f"6281{n:08d}", service, int(country), cost)
        self.activations[activation.id] = activation
        if params["action"] == "getNumber":
            return httpx.Response(200, text=f"ACCESS_NUMBER:{activation.id}:{activation.phone}")
        body = {
            "activationId": n,
            "phoneNumber": activation.phone,
            "activationCost": cost,
            "countryCode": country,
            "canGetAnotherSms": True,
            "activationTime": "2024-05-01 12:00:00",
            "activationEndTime": "2024-05-01 12:20:00",
            "activationOperator": "any",
        }
        return httpx.Response(200, text=dumps(body), headers={"Content-Type": "application/json"})

    def _get_status(self, params: dict[str, str]) -> httpx.Response:
        activation = self.activations.get(params.get("id", ""))
        if activation is None:
            return self._error("NO_ACTIVATION")
        if activation.state in _STATUS_WORDS:
            return httpx.Response(200, text=_STATUS_WORDS[activation.state])
        if activation.state == "wait_retry":
            return httpx.Response(200, text=f"STATUS_WAIT_RETRY:{activation.codes[-1]}")
        if activation.codes:  # ok, or finished after a code
            return httpx.Response(200, text=f"STATUS_OK:{activation.codes[-1]}")
        return httpx.Response(200, text="STATUS_CANCEL")

    def _set_status(self, params: dict[str, str]) -> httpx.Response:
        activation = self.activations.get(params.get("id", ""))
        if activation is None:
            return self._error("WRONG_ACTIVATION_ID")
        status = params.get("status")
        if activation.state in ("cancel", "finished"):
            return self._error("BAD_STATUS")
        if status == "1":
            activation.ready = True
            return httpx.Response(200, text="ACCESS_READY")
        if status == "3" and activation.codes:
            activation.state = "wait_retry"
            return httpx.Response(200, text="ACCESS_RETRY_GET")
        if status == "6":
            activation.state = "finished"
            return httpx.Response(200, text="ACCESS_ACTIVATION")
        if status == "8" and self.early_cancel_denied:
            return self._error("EARLY_CANCEL_DENIED")
        if status == "8" and not activation.codes:
            activation.state = "cancel"
            self.balance += activation.cost
            self.prices[activation.country][activation.service][1] += 1
            return httpx.Response(200, text="ACCESS_CANCEL")
        return self._error("BAD_STATUS")

    def _get_active(self, params: dict[str, str]) -> httpx.Response:
        live = [a for a in self.activations.values() if a.state not in ("finished", "cancel")]
        if not live:
            return self._error("NO_ACTIVATIONS")
        rows = [
            {
                "activationId": a.id,
                "serviceCode": a.service,
                "phoneNumber": a.phone,
                "activationCost": a.cost,
                "activationStatus": _ACTIVATION_STATUS[a.state],
                "smsCode": list(a.codes) or None,
                "smsText": f"Your {a.service} code is {a.codes[-1]}" if a.codes else None,
                "activationTime": "2024-05-01 12:00:00",
                "countryCode": str(a.country),
                "canGetAnotherSms": "1",
            }
            for a in live
        ]
        body = {"status": "success", "activeActivations": rows}
        return httpx.Response(200, text=dumps(body), headers={"Content-Type": "application/json"})
