"""What every fake upstream shares: its fault knobs, and JSON whose Decimal numbers go out as written.

Every fake keeps the requests it received as :class:`Recorded` (:meth:`FakeUpstream.record`: path
relative to its API root, secret headers as ``***``) and the numbers it sold as :class:`SoldNumber`'s.
A fake is an ``httpx.MockTransport`` (pass it as ``transport=`` to its adapter, or serve it with
:mod:`tests.fakes.serve`). The knobs plan the next answer(s) in order, ahead of the fake's own API:
a given response (:meth:`FakeUpstream.respond_next`), a gateway's HTML page, an empty body, or a
transport error raised instead of answering. :meth:`FakeUpstream.refusal` builds an error answer in
the upstream's own format and :meth:`FakeUpstream.sold` shows what the fake sold, so that one
contract test can drive and check every fake alike.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx

_NUMBER = re.compile(r'"__number__([-0-9.eE+]+)__"')


def dumps(value: object) -> str:
    """JSON with every Decimal written as a bare number, exactly as given (never through float)."""
    text = json.dumps(
        value, ensure_ascii=False, default=lambda d: f"__number__{d}__" if isinstance(d, Decimal) else str(d)
    )
    return _NUMBER.sub(r"\1", text)


@dataclass
class SoldNumber:
    """A number a fake sold, by the fields every upstream's order starts with (the upstream's own codes)."""

    id: str
    phone: str
    service: str
    country: Any  # the upstream's country id (int) or code (str)


@dataclass(frozen=True)
class Recorded:
    """A request as the fake received it."""

    method: str
    path: str  # relative to the fake's API root, e.g. "/orders"
    params: dict[str, str]  # the query
    headers: dict[str, str]  # secrets replaced by "***"
    json: object  # the body: parsed JSON, a form as a dict, or None when empty


class FakeUpstream(httpx.MockTransport):
    """The fault knobs; subclasses answer in :meth:`_handle`, after recording the request and serving
    :meth:`planned` first."""

    #: request headers :meth:`record` masks (lower case)
    secret_headers: frozenset[str] = frozenset({"authorization"})
    root = ""  # the API root that recorded paths are relative to
    #: what :meth:`html_next` serves: a gateway's error page
    error_page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

    def __init__(self, api_key: str) -> None:
        super().__init__(self._handle)
        self.api_key = api_key
        self.requests: list[Any] = []  # what the fake received, secrets replaced by "***"
        self._next: list[httpx.Response | Exception] = []

    def _handle(self, request: httpx.Request) -> Any:
        raise NotImplementedError

    def refusal(self, status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """An error answer carrying ``message`` in this upstream's own format."""
        raise NotImplementedError

    def sold(self) -> dict[Any, Any]:
        """What this fake sold so far (its orders or activations, by id): what a paid call created."""
        raise NotImplementedError

    def record(self, request: httpx.Request) -> Recorded:
        """Keep ``request`` in :attr:`requests` (secret headers masked, body parsed) and return it."""
        if request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            body: object = dict(parse_qsl(request.content.decode()))
        else:
            body = json.loads(request.content) if request.content else None
        headers = {k: ("***" if k.lower() in self.secret_headers else v) for k, v in request.headers.items()}
        recorded = Recorded(
            request.method, request.url.path.removeprefix(self.root), dict(request.url.params), headers, body
        )
        self.requests.append(recorded)
        return recorded

    def respond_next(self, response: httpx.Response) -> None:
        """Answer the next request with ``response`` as is (no auth check)."""
        self._next.append(response)

    def html_next(self, status: int = 502) -> None:
        self._next.append(httpx.Response(status, text=self.error_page, headers={"Content-Type": "text/html"}))

    def empty_next(self, status: int = 200) -> None:
        self._next.append(httpx.Response(status, content=b""))

    def raise_next(self, exc: Exception | None = None) -> None:
        """Raise ``exc`` (default ``httpx.ReadTimeout``) from the next request instead of answering."""
        self._next.append(exc or httpx.ReadTimeout("timed out (fake)"))

    def planned(self) -> httpx.Response | None:
        """The answer a knob planned for this request (a planned exception is raised), or None."""
        if not self._next:
            return None
        planned = self._next.pop(0)
        if isinstance(planned, Exception):
            raise planned
        return planned
