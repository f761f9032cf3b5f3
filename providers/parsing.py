"""Helpers every adapter's ``parse.py`` shares: lenient field reading, amounts, times, error texts.

Upstreams spell the same field several ways (``id`` / ``order_id`` / ``orderId``) and send numbers as
JSON numbers or strings; these readers accept the common variants and return ``None`` for anything
else, so each adapter's parser says only which keys it reads. JSON numbers are :class:`Decimal`.
:func:`raise_error` is the common tail of every adapter's error table (``parse.raise_for``, built on
:data:`providers.errors.STATUS_ERRORS`); each ``parse.py`` keeps its own codes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import NoReturn

from providers import errors
from providers.base import Balance
from providers.money import to_minor

log = logging.getLogger(__name__)


def first(mapping: Mapping[str, object], *keys: str) -> object:
    """The first of ``keys`` whose value is present and neither None nor ``""``."""
    return next((mapping[k] for k in keys if mapping.get(k) not in (None, "")), None)


def loads(text: str) -> object:
    """JSON with every number that has a fraction as Decimal (never float); None when not JSON."""
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError:
        return None


def holder(body: Mapping[str, object], key: str = "data") -> Mapping[str, object]:
    """The object under ``key`` when there is one, else ``body`` itself (``{"data": {...}}`` or flat)."""
    inner = body.get(key)
    return inner if isinstance(inner, dict) else body


def scalar(value: object) -> str | None:
    """A string, integer or Decimal as stripped text (an id, a code, a phone); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return None
    return str(value).strip() or None


def whole(value: object) -> int | None:
    """A count: an int, an integral Decimal or a string of digits; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def amount(value: object) -> Decimal | None:
    """A price or balance as a finite, non-negative Decimal (JSON Decimal, int or numeric string)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        return None
    try:
        parsed = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return parsed if parsed.is_finite() and parsed >= 0 else None


def minor(value: object, currency: str) -> int | None:
    """An optional amount in minor units of ``currency``; None when absent or unreadable (logged)."""
    if value in (None, ""):
        return None
    try:
        return to_minor(value, currency)
    except ValueError:
        log.warning("unreadable amount %r ignored", str(value)[:40])
        return None


def currency_of(value: object, default: str) -> str:
    """An upper-case currency code from the answer, or ``default`` when it names none."""
    return value.strip().upper() if isinstance(value, str) and value.strip() else default


def to_balance(value: object, code: str, *, provider: str) -> Balance:
    """Our balance from an amount in ``code``; an unreadable one is BadResponse."""
    try:
        return Balance(amount=to_minor(value, code), currency=code)
    except ValueError:
        raise errors.BadResponse("balance answer has no readable amount", provider=provider) from None


def parse_time(value: object) -> datetime | None:
    """ISO 8601 (naive means UTC) or Unix seconds (milliseconds when that large); None when unreadable."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value) / (1000 if value > 10**11 else 1), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        log.warning("unreadable timestamp %r", value[:40])
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def scrub(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` (an API key) replaced by ``***``."""
    return text.replace(secret, "***") if secret else text


def raise_error(
    kind: type[errors.ProviderError] | None,
    status: int,
    message: object,
    *,
    secret: str,
    provider: str,
    code: str | None,
) -> NoReturn:
    """The common end of an error table: ``kind`` when the table placed the answer; else Unavailable
    for a 5xx and BadResponse (an error nobody documented) for the rest. The text is ``HTTP <status>:
    <upstream message>`` with ``secret`` (the API key) scrubbed out before any cut."""
    text = scrub(f"HTTP {status}: {message}" if isinstance(message, str) and message else f"HTTP {status}", secret)
    if kind is None and status >= 500:
        kind = errors.Unavailable
    if kind is None:
        raise errors.BadResponse(f"unknown error answer ({text[:200]})", provider=provider, code=code)
    raise kind(text[:300], provider=provider, code=code)


#: (logger, word) pairs already warned about: an upstream's unknown word is said once, not on every poll run
_WARNED: set[tuple[str, str]] = set()
WARNED_LIMIT = 1000


def warn_once(logger: logging.Logger, word: str, message: str, *args: object) -> None:
    """``logger.warning(message, *args)`` the first time ``word`` is seen by ``logger``: a bulk read meets
    the same unknown status in every item, every few seconds (at most :data:`WARNED_LIMIT` words kept)."""
    key = (logger.name, word)
    if key in _WARNED:
        return
    if len(_WARNED) < WARNED_LIMIT:
        _WARNED.add(key)
    logger.warning(message, *args)
