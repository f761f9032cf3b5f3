"""What an order operation ended in, for handlers to render."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.money.pricing import Quote
from storage.orders import Order


class Outcome(enum.StrEnum):
    PLACED = "placed"
    DUPLICATE = "duplicate"  # this Confirm was already used; no second charge
    INSUFFICIENT = "insufficient"
    PRICE_CHANGED = "price_changed"
    OUT_OF_STOCK = "out_of_stock"
    UNKNOWN = "unknown"  # the upstream's answer was unclear; resolved later
    CANCELLED = "cancelled"
    HAS_CODE = "has_code"
    REFUSED = "refused"
    UNAVAILABLE = "unavailable"
    NOT_FOUND = "not_found"
    CLOSED = "closed"
    REQUESTED = "requested"  # another code was asked for
    RENEWED = "renewed"
    UNSUPPORTED = "unsupported"
    TERMS_CHANGED = "terms_changed"  # the offer to buy is now non-refundable: shown again, nothing charged
    TOO_MANY_OPEN = "too_many_open"  # the user has the maximum of open orders (``limit``)
    TOO_FAST = "too_fast"  # the user started the maximum of purchases in the last minute (``limit``)
    NOT_REFUNDABLE = "not_refundable"  # cancel of an order whose terms were non-refundable


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    order: Order | None = None
    quote: Quote | None = None
    retry_after: float | None = None
    limit: int | None = None
