"""smscartesim answers and error table, per ``../shared/providers/000_320b1b12571c995f.txt``.

Every reader takes the already-parsed JSON (numbers as :class:`~decimal.Decimal`) and is lenient
about spellings; ``parse_purchase`` raises :class:`UnclearResult` (money may be spent) and the
others :class:`BadResponse` when the answer cannot be read. :func:`raise_for` maps error codes,
statuses and messages onto :mod:`providers.errors`. The shapes are listed in :mod:`providers.smscartesim.client`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal

from providers import errors, parsing
from providers.base import Balance, Offer, Purchase, SentSms, Sms, Status, UpstreamState
from providers.normalize import country_code, service_slug
from providers.parsing import currency_of, first, holder, minor, parse_time, raise_error, scalar, scrub, to_balance

log = logging.getLogger(__name__)

NAME = "smscartesim"
CURRENCY = "USD"
BY_CODE: dict[str, type[errors.ProviderError]] = {
    **dict.fromkeys(("unauthorized", "unauthenticated", "invalid_api_key", "invalid_key"), errors.Unauthorized),
    **dict.fromkeys(("insufficient_balance", "insufficient_funds", "low_balance"), errors.ProviderBalanceLow),
    **dict.fromkeys(("no_numbers", "no_numbers_available", "out_of_stock"), errors.OutOfStock),
    **dict.fromkeys(("invalid_service", "invalid_country", "validation_error"), errors.InvalidRequest),
    **dict.fromkeys(("invalid_number", "invalid_recipient", "invalid_sender"), errors.InvalidRequest),
    **dict.fromkeys(("rate_limited", "rate_limit_exceeded", "too_many_requests"), errors.RateLimited),
    "order_not_found": errors.OrderNotFound,
}
BY_STATUS = {**errors.status_errors(400, 402), 422: errors.InvalidRequest}
#: statuses that decide before any message text
FIRM = errors.status_errors(401, 403, 429)
BALANCE_WORDS = ("insufficient", "balance")
STOCK_WORDS = ("no number", "out of stock", "not available")


def raise_for(status: int, body: object, *, secret: str = "", path: str = "") -> None:
    """Raise the typed error for a smscartesim answer to ``path``; quiet on success. The order of the
    checks is in :mod:`providers.smscartesim.client`; ``secret`` is scrubbed from upstream text."""
    envelope = body if isinstance(body, dict) else {}
    if status < 300 and envelope.get("status") != "error":
        return
    code = scrub(scalar(envelope.get("code")) or "", secret)
    message = first(envelope, "message", "error")
    message = message if isinstance(message, str) else ""
    error = BY_CODE.get(code.lower()) or FIRM.get(status)
    if error is None and status >= 500:
        error = errors.Unavailable
    lowered = message.lower()
    if error is None and any(word in lowered for word in BALANCE_WORDS):
        error = errors.ProviderBalanceLow
    if error is None and path not in ("/sms", "/messages") and any(word in lowered for word in STOCK_WORDS):
        error = errors.OutOfStock
    if error is None and status == 404 and path in ("/orders", "/sms", "/messages"):
        error = {"/orders": errors.OutOfStock, "/sms": errors.OrderNotFound}.get(path, errors.InvalidRequest)
    error = error or BY_STATUS.get(status)
    raise_error(error, status, message, secret=secret, provider=NAME, code=code or None)


#: words of the ``{"status": ...}`` envelope, never an order's state
ENVELOPE = frozenset({"success", "error", "ok", "fail", "failed"})
STATES: dict[str, UpstreamState] = {
    **dict.fromkeys(("active", "waiting", "pending", "processing"), UpstreamState.WAITING),
    **dict.fromkeys(("received", "sms_received", "otp_received"), UpstreamState.RECEIVED),
    **dict.fromkeys(("completed", "complete", "finished", "done"), UpstreamState.FINISHED),
    **dict.fromkeys(("cancelled", "canceled", "refunded"), UpstreamState.CANCELLED),
    **dict.fromkeys(("expired", "timeout", "timed_out"), UpstreamState.EXPIRED),
}


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
        raise errors.BadResponse("services answer holds neither a list nor a country map", provider=NAME)
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
        currency = currency_of(item.get("currency"), CURRENCY)
        offers.append(
            Offer(
                provider=NAME,
                service=service_slug(code),
                country=iso,
                cost=minor(first(item, "price", "cost"), currency),
                currency=currency,
                stock=_stock(first(item, "stock", "count", "available", "quantity")),
                product_id=f"{code}|{token}",
                rent_days=parsing.whole(first(item, "rent_days", "days")) or None,
            )
        )
    return offers


def parse_purchase(body: dict) -> Purchase:
    """The order from ``POST /orders``: under ``order`` / ``data`` / ``number``, or at the top level."""
    order = next((body[k] for k in ("order", "data", "number") if isinstance(body.get(k), dict)), body)
    upstream_id = scalar(first(order, "id", "order_id", "orderId"))
    phone = scalar(first(order, "phone", "number", "phone_number", "phoneNumber"))
    if upstream_id is None:
        raise errors.UnclearResult("purchase answer has no order id", provider=NAME)
    if phone is None:
        raise errors.UnclearResult("purchase answer has no phone number", provider=NAME)
    return Purchase(
        upstream_id=upstream_id,
        phone=phone,
        expires_at=parse_time(first(order, "expires_at", "expiresAt", "expires")),
        cost=minor(first(order, "price", "cost"), currency_of(order.get("currency"), CURRENCY)),
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
    data = holder(body)
    raw = next((data[k] for k in ("messages", "sms", "data") if isinstance(data.get(k), list)), None)
    if raw is None and any(data.get(k) not in (None, "") for k in ("messages", "sms")):
        raise errors.BadResponse("sms answer holds no message list", provider=NAME)
    sms = tuple(_sms(item) for item in raw or [] if isinstance(item, dict))
    words = [d.get(k) for d in (data, body) for k in ("order_status", "number_status", "state", "status")]
    word = next((w.strip().lower() for w in words if isinstance(w, str) and w.strip().lower() not in ENVELOPE), None)
    state = STATES.get(word or "")
    if word and state is None:
        parsing.warn_once(log, word, "%s: unknown order status %r", NAME, word[:40])
    if state is None or (state is UpstreamState.WAITING and sms):
        state = UpstreamState.RECEIVED if sms else UpstreamState.WAITING
    return Status(state=state, sms=sms)


def parse_sent(body: dict) -> SentSms:
    """``POST /messages`` accepted: a success envelope, or an answer naming the message (``id`` /
    ``message_id`` / ``messageId``, at the top level or under ``data`` / ``message``); anything else
    may or may not have been sent: UnclearResult."""
    data = next((body[k] for k in ("data", "message") if isinstance(body.get(k), dict)), body)
    upstream_id = scalar(first(data, "id", "message_id", "messageId"))
    if upstream_id is None and body.get("status") != "success":
        raise errors.UnclearResult("message answer is neither a success nor a message", provider=NAME)
    return SentSms(upstream_id=upstream_id)


def balance(body: dict[str, object]) -> Balance:
    """``GET /user/balance``: ``balance`` / ``amount`` and ``currency``, at the top level or under ``data``."""
    data = holder(body)
    return to_balance(first(data, "balance", "amount"), currency_of(data.get("currency"), CURRENCY), provider=NAME)
