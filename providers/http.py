"""Shared plumbing for HTTP adapters: one client factory, one JSON request helper, one base class.

:func:`request_json` turns transport failures and unparseable answers into :mod:`providers.errors`
types and hands ``(status, body)`` back to the adapter, whose ``_raise_for`` maps upstream codes.
JSON numbers become :class:`~decimal.Decimal`, never ``float``. Log lines and error messages carry
the URL path only (no query string, no headers), so an API key never reaches them.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime

import httpx

from providers.base import Provider
from providers.errors import BadResponse, RateLimited, Unavailable, UnclearResult

log = logging.getLogger(__name__)

#: transport errors raised before any byte of the request reached the upstream
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)
#: gateway timeouts: the origin got the request and may still have completed it
_GATEWAY_TIMEOUTS = frozenset({504, 524})
#: server errors that say the request was not processed at all: a paid call may fail over after them
_NOT_PROCESSED = frozenset({502, 503})


def make_client(
    base_url: str,
    *,
    headers: dict[str, str],
    timeout: float = 15.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An ``AsyncClient`` for one upstream; redirects are not followed (a redirect is a bad answer)."""
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        timeout=httpx.Timeout(timeout),
        transport=transport,
        follow_redirects=False,
    )


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _loads(text: str) -> object:
    return json.loads(text, parse_float=Decimal)


async def request_json(
    client: httpx.AsyncClient,
    provider: str,
    method: str,
    url: str,
    *,
    paid: bool = False,
    **kwargs: object,
) -> tuple[int, object]:
    """Send one request and return ``(status_code, parsed_json)``.

    ``paid=True`` marks a request that spends money: a failure that may have happened after the
    request left us (read/write timeout, reset connection, gateway timeout) raises
    :class:`UnclearResult` instead of :class:`Unavailable`, so the caller never re-sends it blindly.
    """
    request = client.build_request(method, url, **kwargs)  # type: ignore[arg-type]
    where = f"{method} {request.url.path}"
    try:
        response = await client.send(request)
    except httpx.RequestError as exc:  # transport errors, timeouts, undecodable bodies
        kind = type(exc).__name__
        if paid and not isinstance(exc, _NOT_SENT):
            log.warning("%s: %s on paid %s, outcome unknown", provider, kind, where)
            raise UnclearResult(f"{kind} on {where}; outcome unknown", provider=provider) from exc
        log.warning("%s: %s on %s", provider, kind, where)
        raise Unavailable(f"{kind} on {where}", provider=provider) from exc

    status = response.status_code
    log.debug("%s: %s -> %s", provider, where, status)
    try:
        body: object = _loads(response.text) if response.text.strip() else None
    except ValueError:
        body = None
        parsed = False
    else:
        parsed = body is not None

    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        code = body.get("code") if isinstance(body, dict) else None
        log.warning("%s: rate limited on %s (retry after %s)", provider, where, retry_after)
        raise RateLimited(
            f"rate limited on {where}",
            provider=provider,
            code=code if isinstance(code, str) else None,
            retry_after=retry_after,
        )
    if paid and status in _GATEWAY_TIMEOUTS:
        log.warning("%s: HTTP %s on paid %s, outcome unknown", provider, status, where)
        raise UnclearResult(f"HTTP {status} on {where}; outcome unknown", provider=provider)
    if not parsed:
        if paid and (200 <= status < 300 or (status >= 500 and status not in _NOT_PROCESSED)):
            log.warning("%s: HTTP %s without JSON on paid %s, outcome unknown", provider, status, where)
            raise UnclearResult(f"HTTP {status} unreadable on {where}; outcome unknown", provider=provider)
        if status >= 500:
            log.warning("%s: HTTP %s without JSON on %s", provider, status, where)
            raise Unavailable(f"HTTP {status} on {where}", provider=provider)
        log.warning("%s: HTTP %s with no JSON body on %s", provider, status, where)
        raise BadResponse(f"HTTP {status} on {where}: body is not JSON", provider=provider)
    return status, body


class HttpProvider(Provider):
    """A provider reached through one ``AsyncClient``; the abstract upstream methods stay abstract.

    Subclasses keep their own public constructor (defaults, auth headers) and pass them here, keep
    their own ``_raise_for`` and shape results themselves; :meth:`_request` only sends and parses.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        headers: dict[str, str],
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
    ) -> None:
        self._key = api_key
        self._client = make_client(base_url, headers=headers, timeout=timeout, transport=transport)

    async def _request(self, method: str, path: str, *, paid: bool = False, **kwargs: object) -> tuple[int, object]:
        """:func:`request_json` on this provider's client, under its ``name``."""
        return await request_json(self._client, self.name, method, path, paid=paid, **kwargs)

    async def close(self) -> None:
        await self._client.aclose()
