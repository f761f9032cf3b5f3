"""Readers for smscartesim answers; the shapes they accept are listed in :mod:`providers.smscartesim`.

Every reader takes the already-parsed JSON (numbers as :class:`~decimal.Decimal`) and is lenient
about spellings; ``parse_purchase`` raises :class:`UnclearResult` (money may be spent) and the
others :class:`BadResponse` when the answer cannot be read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

from providers.base import Offer, Purchase, Sms, Status, UpstreamState
from providers.errors import BadResponse, UnclearResult
from providers.money import to_minor
from providers.normalize import country_code, service_slug

log = logging.getLogger(__name__)

NAME = "smscartesim"
CURRENCY = "USD"
#: words of the ``{"status": ...}`` envelope, never an order's state
ENVELOPE = frozenset({"success", "error", "ok", "fail", "failed"})
STATES: dict[str, UpstreamState] = {
    **dict.fromkeys(("active", "waiting", "pending", "processing"), UpstreamState.WAITING),
    **dict.fromkeys(("received", "sms_received", "otp_received"), UpstreamState.RECEIVED),
    **dict.fromkeys(("completed", "complete", "finished", "done"), UpstreamState.FINISHED),
    **dict.fromkeys(("cancelled", "canceled", "refunded"), UpstreamState.CANCELLED),
    **dict.fromkeys(("expired", "timeout", "timed_out"), UpstreamState.EXPIRED),
}


def first(mapping: dict, *keys: str) -> object:
    """The first of ``keys`` present with a value other than None or ``""``."""
    return next((mapping[k] for k in keys if mapping.get(k) not in (None, "")), None)


def parse_time(value: object) -> datetime | None:
    """ISO 8601 (naive means UTC) or Unix seconds; None when absent or unreadable."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(int(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        log.warning("%s: unreadable timestamp %r", NAME, value[:40])
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _money(value: object, currency: str) -> int | None:
    if value is None:
        return None
    try:
        return to_minor(value, currency)
    except ValueError:
        log.warning("%s: unreadable amount %r", NAME, str(value)[:40])
        return None


def _stock(value: object) -> int | None:
    if isinstance(value, bool):
        return None if value else 0
    if isinstance(value, int | Decimal) and value == int(value):
        return max(0, int(value))
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _items(raw: object, country: object) -> Iterator[tuple[dict, object]]:
    """Yield ``(item, default country token)`` from a list of items or a ``{country: {service: ..}}`` map."""
    if isinstance(raw, list):
        for item in raw:
            if not isinstance(item, dict):
                continue
            nested = item.get("countries")
            if isinstance(nested, list) and item.get("country") in (None, ""):
                base = {k: v for k, v in item.items() if k != "countries"}
                for sub in nested:
                    yield ({**base, **sub} if isinstance(sub, dict) else {**base, "country": sub}), country
            else:
                yield item, country
    elif isinstance(raw, dict):
        for token, services in raw.items():
            if isinstance(services, list):
                yield from _items(services, token)
            elif isinstance(services, dict):
                for code, info in services.items():
                    item = dict(info) if isinstance(info, dict) else {"price": info}
                    yield {**item, "service": code, "country": token}, token


def parse_offers(body: dict, *, country_token: str | None, only: str | None) -> list[Offer]:
    """Offers from ``GET /services``; ``only`` (ISO alpha-2) drops any other country the upstream sent."""
    raw = body["services"] if "services" in body else body.get("data")
    if isinstance(raw, dict) and isinstance(raw.get("services"), list | dict):
        raw = raw["services"]
    if not isinstance(raw, list | dict):
        raise BadResponse("services answer holds neither a list nor a country map", provider=NAME)
    offers: list[Offer] = []
    for item, default_country in _items(raw, country_token):
        code = first(item, "service", "code", "service_code")
        token = first(item, "country", "country_code", "country_id") or default_country
        if not isinstance(code, str | int) or not isinstance(token, str | int) or isinstance(token, bool):
            continue
        code, token = str(code).strip(), str(token).strip()
        iso = country_code(token)
        if only is not None and iso != only:
            continue
        currency = item["currency"].upper() if isinstance(item.get("currency"), str) else CURRENCY
        offers.append(
            Offer(
                provider=NAME,
                service=service_slug(code),
                country=iso,
                cost=_money(first(item, "price", "cost"), currency),
                currency=currency,
                stock=_stock(first(item, "stock", "count", "available", "quantity")),
                product_id=f"{code}|{token}",
            )
        )
    return offers


def parse_purchase(body: dict) -> Purchase:
    """The order from ``POST /orders``: under ``order`` / ``data`` / ``number``, or at the top level."""
    order = next((body[k] for k in ("order", "data", "number") if isinstance(body.get(k), dict)), body)
    upstream_id = first(order, "id", "order_id", "orderId")
    phone = first(order, "phone", "number", "phone_number", "phoneNumber")
    if isinstance(upstream_id, bool) or not isinstance(upstream_id, str | int | Decimal):
        raise UnclearResult("purchase answer has no order id", provider=NAME)
    if isinstance(phone, bool) or not isinstance(phone, str | int | Decimal):
        raise UnclearResult("purchase answer has no phone number", provider=NAME)
    currency = order["currency"].upper() if isinstance(order.get("currency"), str) else CURRENCY
    return Purchase(
        upstream_id=str(upstream_id),
        phone=str(phone),
        expires_at=parse_time(first(order, "expires_at", "expiresAt", "expires")),
        cost=_money(first(order, "price", "cost"), currency),
    )


def _sms(item: dict) -> Sms:
    code = first(item, "code", "otp")
    sender = first(item, "from", "sender")
    return Sms(
        text=str(first(item, "text", "message", "body") or ""),
        code=str(code) if code is not None else None,
        sender=str(sender) if sender is not None else None,
        received_at=parse_time(first(item, "received_at", "created_at", "date")),
    )


def parse_status(body: dict) -> Status:
    """State and SMS history from ``GET /sms?id=``; with no status word, WAITING until an SMS arrives."""
    holder = body["data"] if isinstance(body.get("data"), dict) else body
    raw = next((holder[k] for k in ("messages", "sms", "data") if isinstance(holder.get(k), list)), None)
    if raw is None and any(holder.get(k) not in (None, "") for k in ("messages", "sms")):
        raise BadResponse("sms answer holds no message list", provider=NAME)
    sms = tuple(_sms(item) for item in raw or [] if isinstance(item, dict))
    words = [d.get(k) for d in (holder, body) for k in ("order_status", "number_status", "state", "status")]
    word = next((w.strip().lower() for w in words if isinstance(w, str) and w.strip().lower() not in ENVELOPE), None)
    state = STATES.get(word or "")
    if word and state is None:
        log.warning("%s: unknown order status %r", NAME, word[:40])
    if state is None or (state is UpstreamState.WAITING and sms):
        state = UpstreamState.RECEIVED if sms else UpstreamState.WAITING
    return Status(state=state, sms=sms)


#: keys under which ``GET /sms`` (no id) may hold the list of active numbers
ACTIVE_LIST_KEYS = ("data", "numbers", "orders", "active", "items")
CREATED_KEYS = ("created_at", "createdAt", "purchased_at", "bought_at", "date")


def parse_active(body: dict) -> list[dict]:
    """The active numbers from ``GET /sms`` without an id: a list under one of
    :data:`ACTIVE_LIST_KEYS`, at the top level or inside a ``data`` object."""
    for holder in (body, body.get("data")):
        if not isinstance(holder, dict):
            continue
        raw = next((holder[k] for k in ACTIVE_LIST_KEYS if isinstance(holder.get(k), list)), None)
        if raw is not None:
            return [item for item in raw if isinstance(item, dict)]
    raise BadResponse("active numbers answer holds no list", provider=NAME)


def _token(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return None
    return str(value).strip().lower() or None


def match_active(items: list[dict], offer: Offer, since: datetime) -> Purchase | None:
    """The number bought for ``offer`` at or after ``since``: the earliest such one (the lost answer
    came first; later ones are likelier other orders'). An item lacking a service, a country or a
    purchase time, or with an ended status word, is never taken: a wrong number is worse than none."""
    service, _, country = (offer.product_id or "").partition("|")
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    found: tuple[datetime, Purchase] | None = None
    for item in items:
        svc = _token(first(item, "service", "service_code", "code"))
        token = _token(first(item, "country", "country_code", "country_id"))
        created = parse_time(first(item, *CREATED_KEYS))
        word = _token(first(item, "order_status", "state", "status"))
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
        except UnclearResult:  # no id or phone: not a number we could hand over
            continue
        if found is None or created < found[0]:
            found = (created, bought)
    return found[1] if found else None
