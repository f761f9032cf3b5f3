"""Shared plumbing for HTTP adapters: one client factory, one JSON request helper, one base class.

:func:`request_json` turns transport failures and unparseable answers into :mod:`providers.errors`
types and hands ``(status, body)`` back to the adapter, whose ``_raise_for`` maps upstream codes.
JSON numbers become :class:`~decimal.Decimal`, never ``float``. Log lines and error messages carry
the URL path only (no query string, no headers), so an API key never reaches them.

The rule for a request that spends money (``paid=True``: buying, renewing): it is a definite "not
sold" only on a refusal the adapter knows (a 4xx or error word it maps: out of stock, low balance,
bad parameters, bad key, rate limit). Everything else is :class:`UnclearResult`, so the bot never
buys a second number elsewhere while the first may exist: any 5xx whatever its body (checked here,
before any body mapping), a timeout or reset after sending, a 1xx/2xx/3xx it cannot read, and an
error answer the adapter cannot place (:func:`paid_outcome`). A paid 4xx without JSON reaches the
adapter with ``body=None`` so that a documented status (iSMScode's ``404`` = out of stock) still
counts; an unmapped one becomes unclear there. Requests that spend nothing keep the plain mapping.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime

import httpx

from providers.base import Provider
from providers.errors import BadResponse, ProviderError, RateLimited, Unavailable, UnclearResult

log = logging.getLogger(__name__)

#: transport errors raised before any byte of the request reached the upstream
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


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
    request left us (read/write timeout, reset connection, any 5xx, an unreadable 1xx-3xx) raises
    :class:`UnclearResult` instead of :class:`Unavailable`/:class:`BadResponse`, so the caller never
    re-sends it blindly. A paid 4xx without JSON comes back as ``(status, None)`` for the adapter's
    status table (wrap that mapping in :func:`paid_outcome`).
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
    if paid and status >= 500:  # whatever the body says: an error page may follow a completed sale
        log.warning("%s: HTTP %s on paid %s, outcome unknown", provider, status, where)
        raise UnclearResult(f"HTTP {status} on {where}; outcome unknown", provider=provider)
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
    if not parsed:
        if paid and 400 <= status < 500:
            log.warning("%s: HTTP %s without JSON on paid %s", provider, status, where)
            return status, None  # the adapter maps the status it knows; the rest is unclear there
        if paid:
            log.warning("%s: HTTP %s without JSON on paid %s, outcome unknown", provider, status, where)
            raise UnclearResult(f"HTTP {status} unreadable on {where}; outcome unknown", provider=provider)
        if status >= 500:
            log.warning("%s: HTTP %s without JSON on %s", provider, status, where)
            raise Unavailable(f"HTTP {status} on {where}", provider=provider)
        log.warning("%s: HTTP %s with no JSON body on %s", provider, status, where)
        raise BadResponse(f"HTTP {status} on {where}: body is not JSON", provider=provider)
    return status, body


@contextmanager
def paid_outcome(provider: str, where: str, *, paid: bool) -> Iterator[None]:
    """Around an adapter's mapping of an answer: on a paid request, an answer it cannot place
    (:class:`BadResponse`) or a server error it maps (:class:`Unavailable`, e.g. an error word such
    as ``ERROR_SQL`` or an error code 5xx inside a 200) is :class:`UnclearResult`; known refusals
    pass unchanged. Spends-nothing requests pass everything unchanged."""
    try:
        yield
    except (BadResponse, Unavailable) as exc:
        if not paid or isinstance(exc, UnclearResult):
            raise
        log.warning("%s: %s on paid %s, outcome unknown", provider, type(exc).__name__, where)
        raise _unclear(exc, where) from exc


def _unclear(exc: ProviderError, where: str) -> UnclearResult:
    text = exc.args[0] if exc.args else type(exc).__name__  # already scrubbed by the adapter
    return UnclearResult(f"{text} on {where}; outcome unknown", provider=exc.provider, code=exc.code)


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
