"""Shared plumbing for every adapter: the transport (:func:`send`), the JSON layer, one base class.

:func:`send` owns what every protocol shares: timeouts and transport errors, ``429`` with
``Retry-After``, a 5xx on a request that spends money, and keeping the API key out of messages and
logs (messages name the URL path only, never the query; transport errors drop httpx's exception,
which holds the full URL; httpx's own request log lines get ``api_key=***``). :func:`request_json`
builds the JSON layer on it and hands ``(status, body)`` back to the adapter, whose error table
(``parse.raise_for``) maps upstream codes; text protocols (sms-activate) read the response of
:func:`send` themselves. JSON numbers become :class:`~decimal.Decimal`, never ``float``.

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

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from providers import errors
from providers.base import Provider
from providers.parsing import loads, scrub

log = logging.getLogger(__name__)

#: transport errors raised before any byte of the request reached the upstream
NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


class MaskKeyInUrls(logging.Filter):
    """Rewrites ``api_key=<key>`` as ``api_key=***`` in a log record's message (httpx logs full URLs)."""

    _pattern = re.compile(r"(api_key=)[^&\s\"'>]*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        if "api_key=" in message.lower():
            record.msg, record.args = self._pattern.sub(r"\1***", message), ()
        return True


if not any(isinstance(f, MaskKeyInUrls) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(MaskKeyInUrls())


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


async def send(
    client: httpx.AsyncClient,
    provider: str,
    method: str,
    url: str,
    *,
    paid: bool = False,
    where: str | None = None,
    secret: str = "",
    **kwargs: Any,
) -> httpx.Response:
    """Send one request and return its response, whatever the protocol; raises for what every upstream
    shares: a transport failure (Unavailable, or UnclearResult when ``paid`` and it may have left us),
    a 429 (RateLimited with ``retry_after``) and a 5xx on a paid request (UnclearResult, whatever the
    body says: an error page may follow a completed sale). ``where`` names the call in messages and
    logs (default ``"<METHOD> <path>"``); ``secret`` is scrubbed from it."""
    request = client.build_request(method, url, **kwargs)
    where = scrub(where or f"{method} {request.url.path}", secret)
    try:
        response = await client.send(request)
    except httpx.RequestError as exc:  # transport errors, timeouts, undecodable bodies
        kind = type(exc).__name__
        if paid and not isinstance(exc, NOT_SENT):
            log.warning("%s: %s on paid %s, outcome unknown", provider, kind, where)
            raise errors.UnclearResult(f"{kind} on {where}; outcome unknown", provider=provider) from None
        log.warning("%s: %s on %s", provider, kind, where)
        raise errors.Unavailable(f"{kind} on {where}", provider=provider) from None  # httpx's holds the URL

    status = response.status_code
    log.debug("%s: %s -> %s", provider, where, status)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        body = loads(response.text)
        code = body.get("code") if isinstance(body, dict) else None
        log.warning("%s: rate limited on %s (retry after %s)", provider, where, retry_after)
        raise errors.RateLimited(
            f"rate limited on {where}",
            provider=provider,
            code=scrub(code, secret) if isinstance(code, str) else None,
            retry_after=retry_after,
        )
    if paid and status >= 500:
        log.warning("%s: HTTP %s on paid %s, outcome unknown", provider, status, where)
        raise errors.UnclearResult(f"HTTP {status} on {where}; outcome unknown", provider=provider)
    return response


async def request_json(
    client: httpx.AsyncClient, provider: str, method: str, url: str, *, paid: bool = False, **kwargs: Any
) -> tuple[int, object]:
    """:func:`send`, then the answer as ``(status_code, parsed_json)``.

    A body that is not JSON is BadResponse (Unavailable for a 5xx); on a ``paid`` request it is
    UnclearResult, except that a paid 4xx without JSON comes back as ``(status, None)`` for the
    adapter's status table (wrap that mapping in :func:`paid_outcome`).
    """
    response = await send(client, provider, method, url, paid=paid, **kwargs)
    status, where = response.status_code, f"{method} {response.request.url.path}"
    body = loads(response.text) if response.text.strip() else None
    if body is not None:
        return status, body
    if paid and 400 <= status < 500:
        log.warning("%s: HTTP %s without JSON on paid %s", provider, status, where)
        return status, None  # the adapter maps the status it knows; the rest is unclear there
    if paid:
        log.warning("%s: HTTP %s without JSON on paid %s, outcome unknown", provider, status, where)
        raise errors.UnclearResult(f"HTTP {status} unreadable on {where}; outcome unknown", provider=provider)
    if status >= 500:
        log.warning("%s: HTTP %s without JSON on %s", provider, status, where)
        raise errors.Unavailable(f"HTTP {status} on {where}", provider=provider)
    log.warning("%s: HTTP %s with no JSON body on %s", provider, status, where)
    raise errors.BadResponse(f"HTTP {status} on {where}: body is not JSON", provider=provider)


@contextmanager
def paid_outcome(provider: str, where: str, *, paid: bool) -> Iterator[None]:
    """Around an adapter's mapping of an answer: on a paid request, an answer it cannot place
    (:class:`BadResponse`) or a server error it maps (:class:`Unavailable`, e.g. an error word such
    as ``ERROR_SQL`` or an error code 5xx inside a 200) is :class:`UnclearResult`; known refusals
    pass unchanged. Spends-nothing requests pass everything unchanged."""
    try:
        yield
    except (errors.BadResponse, errors.Unavailable) as exc:
        if not paid or isinstance(exc, errors.UnclearResult):
            raise
        log.warning("%s: %s on paid %s, outcome unknown", provider, type(exc).__name__, where)
        text = exc.args[0] if exc.args else type(exc).__name__  # already scrubbed by the adapter
        raise errors.UnclearResult(f"{text} on {where}; outcome unknown", provider=exc.provider, code=exc.code) from exc


class HttpProvider(Provider):
    """A provider reached through one ``AsyncClient``; the abstract upstream methods stay abstract.

    Subclasses name their documented :attr:`default_url` and :attr:`key_header`, set :attr:`raise_for`
    to their error table and shape results themselves: :meth:`_send` only sends (any protocol),
    :meth:`_json` sends, parses JSON and applies the error table.
    """

    #: the upstream's documented base URL, used when none is given
    default_url: str = ""
    #: the header that carries the key: ``Authorization`` (as ``Bearer <key>``) or e.g. ``X-API-Key``
    key_header: str = "Authorization"
    #: what every JSON answer of the upstream is (``object`` where some answers are bare lists)
    answers: type = dict

    def __init__(
        self,
        api_key: str,
        base_url: str = "",
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
    ) -> None:
        self._key = api_key
        base_url = base_url or self.default_url
        self._client = make_client(base_url, headers=self.headers(), timeout=timeout, transport=transport)

    def headers(self) -> dict[str, str]:
        """Headers of every request: the key in :attr:`key_header`, JSON accepted."""
        key = f"Bearer {self._key}" if self.key_header == "Authorization" else self._key
        return {self.key_header: key, "Accept": "application/json"}

    @staticmethod
    def raise_for(status: int, body: object, *, secret: str = "", path: str = "") -> None:
        """The adapter's error table (its ``parse.raise_for``): raise the typed error, quiet on success."""
        raise NotImplementedError

    async def _send(self, method: str, url: str, *, paid: bool = False, **kwargs: Any) -> httpx.Response:
        """:func:`send` on this provider's client, under its ``name``, scrubbing its key."""
        return await send(self._client, self.name, method, url, paid=paid, secret=self._key, **kwargs)

    async def _json(self, method: str, path: str, *, paid: bool = False, where: str = "", **kwargs: Any) -> Any:
        """The JSON answer once :attr:`raise_for` finds no error in it and it is one of :attr:`answers`;
        on a paid request only a known refusal is "not sold" (:func:`paid_outcome`)."""
        kwargs.update(secret=self._key, where=where or None)
        status, body = await request_json(self._client, self.name, method, path, paid=paid, **kwargs)
        where = where or f"{method} {path}"
        with paid_outcome(self.name, where, paid=paid):
            self.raise_for(status, body, secret=self._key, path=path)
            if not isinstance(body, self.answers):
                raise errors.BadResponse(f"{where}: expected a JSON {self.answers.__name__}", provider=self.name)
        return body

    async def close(self) -> None:
        await self._client.aclose()
