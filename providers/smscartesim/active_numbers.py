"""smscartesim's list of active numbers (``GET /sms`` without an id): lookup of a lost purchase and the
bulk status read, per ``../shared/providers/000_320b1b12571c995f.txt`` ("If no ID is provided, returns a
list of active numbers"; no shape is shown). The shapes assumed are in :mod:`providers.smscartesim.client`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from providers import errors
from providers.base import Offer, Purchase, Status, UpstreamState
from providers.normalize import country_code, service_slug
from providers.parsing import first, parse_time, scalar
from providers.smscartesim.parse import NAME, STATES, parse_purchase, parse_status

log = logging.getLogger(__name__)

#: keys under which ``GET /sms`` (no id) may hold the list of active numbers
ACTIVE_LIST_KEYS = ("data", "numbers", "orders", "active", "items")
CREATED_KEYS = ("created_at", "createdAt", "purchased_at", "bought_at", "date")


def parse_active(body: dict) -> list[dict]:
    """The active numbers from ``GET /sms`` without an id: a list under one of
    :data:`ACTIVE_LIST_KEYS`, at the top level or inside a ``data`` object."""
    for place in (body, body.get("data")):
        if not isinstance(place, dict):
            continue
        raw = next((place[k] for k in ACTIVE_LIST_KEYS if isinstance(place.get(k), list)), None)
        if raw is not None:
            return [item for item in raw if isinstance(item, dict)]
    raise errors.BadResponse("active numbers answer holds no list", provider=NAME)


def match_active(items: list[dict], offer: Offer, since: datetime) -> Purchase | None:
    """The number bought for ``offer`` at or after ``since``: the earliest such one (the lost answer
    came first; later ones are likelier other orders'). An item lacking a service, a country or a
    purchase time, or with an ended status word, is never taken: a wrong number is worse than none."""
    service, _, country = (offer.product_id or "").partition("|")
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    found: tuple[datetime, Purchase] | None = None
    for item in items:
        svc = _lower(first(item, "service", "service_code", "code"))
        token = _lower(first(item, "country", "country_code", "country_id"))
        created = parse_time(first(item, *CREATED_KEYS))
        word = _lower(first(item, "order_status", "state", "status"))
        if svc is None or token is None or created is None or created < since:
            continue
        if STATES.get(word or "") in (UpstreamState.CANCELLED, UpstreamState.EXPIRED):
            continue
        if svc != service.strip().lower() and service_slug(svc) != offer.service:
            continue
        if token != country.strip().lower() and country_code(token) != offer.country:
            continue
        try:
            bought = parse_purchase(item)
        except errors.UnclearResult:  # no id or phone: not a number we could hand over
            continue
        if found is None or created < found[0]:
            found = (created, bought)
    return found[1] if found else None


def _lower(value: object) -> str | None:
    found = scalar(value)
    return found.lower() if found else None


#: keys under which an active number carries its SMS, as ``GET /sms?id=`` does
MESSAGE_KEYS = ("messages", "sms")


def statuses(items: list[dict]) -> dict[str, Status]:
    """``{order id: Status}`` for the active numbers whose SMS the list shows, each read as
    :func:`parse_status` reads ``GET /sms?id=`` for it. A number without a message list (``messages`` /
    ``sms``) or without an id is left out: its SMS are unknown here, and the poll job asks about it
    by id."""
    found: dict[str, Status] = {}
    for item in items:
        upstream_id = scalar(first(item, "id", "order_id", "orderId"))
        if upstream_id is not None and any(isinstance(item.get(k), list) for k in MESSAGE_KEYS):
            found[upstream_id] = parse_status(item)
    if len(found) < len(items):
        log.debug(
            "%s: %d active numbers without id or SMS list left to per-order checks", NAME, len(items) - len(found)
        )
    return found
