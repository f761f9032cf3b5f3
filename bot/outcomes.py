"""What an order operation ended in, for handlers to render."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.pricing import Quote
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


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    order: Order | None = None
    quote: Quote | None = None
    retry_after: float | None = None
