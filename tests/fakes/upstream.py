"""What every fake upstream shares: its fault knobs, and JSON whose Decimal numbers go out as written.

A fake is an ``httpx.MockTransport`` (pass it as ``transport=`` to its adapter, or serve it with
:mod:`tests.fakes.serve`). The knobs plan the next answer(s) in order, ahead of the fake's own API:
a given response (:meth:`FakeUpstream.respond_next`), a gateway's HTML page, an empty body, or a
transport error raised instead of answering. :meth:`FakeUpstream.refusal` builds an error answer in
the upstream's own format, so that one contract test can drive every fake alike.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import httpx

_NUMBER = re.compile(r'"__number__([-0-9.eE+]+)__"')


def dumps(value: object) -> str:
    """JSON with every Decimal written as a bare number, exactly as given (never through float)."""
    text = json.dumps(
        value, ensure_ascii=False, default=lambda d: f"__number__{d}__" if isinstance(d, Decimal) else str(d)
    )
    return _NUMBER.sub(r"\1", text)


class FakeUpstream(httpx.MockTransport):
    """The fault knobs; subclasses answer in :meth:`_handle`, after recording the request and serving
    :meth:`planned` first."""

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
