"""Typed errors raised by provider adapters, modelled on httpx's exception tree.

ProviderError                       base class; ``provider`` names the upstream
├── OutOfStock                      no number for this (service, country) right now
├── ProviderBalanceLow              our account at the upstream cannot pay for the number
├── Unauthorized                    the API key is missing, wrong or revoked
├── RateLimited                     too many requests; ``retry_after`` seconds, when known
├── InvalidRequest                  the upstream rejected our parameters (unknown service/country)
├── OrderNotFound                   the upstream does not know this order id
├── CancelRefused                   the upstream will not cancel (yet); ``retry_after`` when it says
├── Unavailable                     the upstream is down, answered 5xx, or the connection failed
│   └── UnclearResult               a paid request was sent but its outcome is unknown (timeout
│                                   after sending, connection reset): never re-send it, look it up
└── BadResponse                     the upstream answered something we cannot parse (HTML, empty)

Adapters map upstream codes onto these in one place each (``raise_for`` in the adapter's ``parse.py``),
like aiogram's ``check_response``, starting from what the common HTTP statuses mean
(:data:`STATUS_ERRORS`). Messages never contain API keys.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base class of every error an adapter raises."""

    def __init__(self, message: str = "", *, provider: str = "", code: str | None = None) -> None:
        super().__init__(message or self.__class__.__name__)
        self.provider = provider
        self.code = code

    def __str__(self) -> str:
        text = super().__str__()
        prefix = f"[{self.provider}] " if self.provider else ""
        suffix = f" ({self.code})" if self.code else ""
        return f"{prefix}{text}{suffix}"


class _MayRetry(ProviderError):
    """An error that may say when to try again: ``retry_after`` seconds, when known."""

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class OutOfStock(ProviderError):
    """No number is available for the requested service and country."""


class ProviderBalanceLow(ProviderError):
    """Our account at the upstream has too little money for this purchase."""


class Unauthorized(ProviderError):
    """The API key was rejected."""


class RateLimited(_MayRetry):
    """The upstream asked us to slow down."""


class InvalidRequest(ProviderError):
    """The upstream rejected the parameters (unknown service or country, malformed body)."""


class OrderNotFound(ProviderError):
    """The upstream has no order with this id (or it is not ours)."""


class CancelRefused(_MayRetry):
    """The upstream refused to cancel the order now (e.g. too early, or a code already arrived)."""


class Unavailable(ProviderError):
    """The upstream could not be reached or answered with a server error."""


class UnclearResult(Unavailable):
    """A request that spends money was sent, but whether it succeeded is unknown."""


class BadResponse(ProviderError):
    """The upstream's answer could not be understood (not JSON, wrong shape, empty)."""


#: the meaning most upstream documents give these HTTP statuses; an adapter's ``BY_STATUS`` takes it whole
#: and adds its document's exceptions (``{**errors.STATUS_ERRORS, 404: errors.OrderNotFound}``), or picks from it
STATUS_ERRORS: dict[int, type[ProviderError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    402: ProviderBalanceLow,
    403: Unauthorized,
    429: RateLimited,
}


def status_errors(*statuses: int) -> dict[int, type[ProviderError]]:
    """The part of :data:`STATUS_ERRORS` an upstream's document lists (``errors.status_errors(401, 403)``)."""
    return {status: STATUS_ERRORS[status] for status in statuses}
