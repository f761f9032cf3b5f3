"""SimSmsBox answers and error table, per ``../shared/providers/001_943acbeb186e1349.txt``.

:func:`raise_for` maps error texts and statuses onto :mod:`providers.errors`; the shapes assumed are
listed in :mod:`providers.simsmsbox.client`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from providers import errors, parsing
from providers.base import Balance, Offer, Purchase, Sms, Status, UpstreamState
from providers.money import to_minor
from providers.normalize import country_code, service_slug
from providers.parsing import amount, currency_of, first, minor, parse_time, raise_error, scalar, to_balance, whole

log = logging.getLogger(__name__)

NAME = "simsmsbox"
CURRENCY = "USD"
BY_TEXT: tuple[tuple[str, type[errors.ProviderError]], ...] = (
    ("no available platform", errors.OutOfStock),
    ("insufficient", errors.ProviderBalanceLow),
    ("balance", errors.ProviderBalanceLow),
)
BY_STATUS = {**errors.STATUS_ERRORS, 404: errors.OrderNotFound}
STATES: dict[str, UpstreamState] = {
    **dict.fromkeys(("active", "waiting", "pending", "processing"), UpstreamState.WAITING),
    **dict.fromkeys(("received", "success"), UpstreamState.RECEIVED),
    **dict.fromkeys(("completed", "finished"), UpstreamState.FINISHED),
    **dict.fromkeys(("expired", "released"), UpstreamState.EXPIRED),
    **dict.fromkeys(("cancelled", "canceled", "refunded"), UpstreamState.CANCELLED),
}
EXPIRY_KEYS = ("expireAt", "expiresAt", "expire_at", "expires_at")
CREATED_KEYS = ("createdAt", "created_at", "createTime")
ORDER_ID_KEYS = ("orderId", "id", "order_id")
#: an order answer carries at least one of these (the document: "with latestCode, status, expireAt")
ORDER_KEYS = ("status", "latestCode", "latest_code", *ORDER_ID_KEYS, *EXPIRY_KEYS)
#: a 2xx answer saying it succeeded: ``code`` / ``status`` with one of these, or ``success`` / ``ok`` true
SUCCESS_WORDS = frozenset({"0", "200", "ok", "success"})


def raise_for(status: int, body: object, *, secret: str = "", path: str = "") -> None:
    """Raise the typed error for a SimSmsBox answer (message/code text first, HTTP status second);
    quiet on a success. ``secret`` is scrubbed from messages."""
    data = body if isinstance(body, dict) else {}
    code, error = data.get("code"), data.get("error")
    if isinstance(code, int) and not isinstance(code, bool) and status < 400 and 400 <= code < 600:
        status = code
    elif status < 400 and data.get("success") is not False and not error:
        return
    if isinstance(error, dict):
        code, error = error.get("code", code), error.get("message")
    message = next((m for m in (data.get("message"), data.get("msg"), error) if isinstance(m, str) and m), "")
    code_text = scalar(code)
    haystack = f"{code_text or ''} {message}".lower().replace("_", " ")
    found = next((cls for needle, cls in BY_TEXT if needle in haystack), None) or BY_STATUS.get(status)
    raise_error(found, status, message, secret=secret, provider=NAME, code=code_text)


def unwrap_list(body: object) -> list[object] | None:
    """A list answer, or the list under ``data`` / ``items`` / ``list`` / ``records`` (nested once)."""
    if isinstance(body, dict):
        inner = (body[k] for k in ("data", "items", "list", "records") if isinstance(body.get(k), list | dict))
        return next((found for i in inner if (found := unwrap_list(i)) is not None), None)
    return body if isinstance(body, list) else None


def unwrap_obj(body: object) -> dict[str, object] | None:
    """An object answer, or the object under ``data``."""
    inner = body.get("data") if isinstance(body, dict) else None
    return inner if isinstance(inner, dict) else body if isinstance(body, dict) else None


def countries(items: list[object]) -> list[tuple[str, str]]:
    """``(upstream code, ISO alpha-2)`` per country; the code is ``code``/``countryCode``/``iso``, else ``name``."""
    codes = (first(i, "code", "countryCode", "iso", "name") if isinstance(i, dict) else i for i in items)
    unique = dict.fromkeys(c.strip() for c in codes if isinstance(c, str) and c.strip())
    return [(code, country_code(code)) for code in unique]


def card_kinds(items: list[object]) -> list[str]:
    """Card kinds from ``/number-types``: strings, or objects with ``code``/``value``/``cardKind``/``kind``/``name``."""
    kinds = (first(i, "code", "value", "cardKind", "kind", "name") if isinstance(i, dict) else i for i in items)
    return list(dict.fromkeys(k.strip() for k in kinds if isinstance(k, str) and k.strip()))


def cheapest(items: list[object]) -> dict[str, tuple[Decimal, str, int | None]]:
    """Per market ``service`` code: the lowest in-stock ``(price, currency, stock)``; sold-out items drop out."""
    best: dict[str, tuple[Decimal, str, int | None]] = {}
    for item in (i for i in items if isinstance(i, dict)):
        service, price, stock = first(item, "service", "serviceName"), amount(item.get("price")), item.get("stock")
        count = None if stock is None else whole(stock)
        if not isinstance(service, str) or price is None or (stock is not None and (count is None or count <= 0)):
            continue  # unreadable or sold out
        if service not in best or price < best[service][0]:
            best[service] = (price, currency_of(item.get("currency"), CURRENCY), count)
    return best


def build_offers(markets: list[tuple[str, str, list[object]]], rentals: tuple[int | None, ...]) -> list[Offer]:
    """Offers from ``(iso, cardKind, market items)``: the cheapest per (slug, country), once per rental length."""
    best: dict[tuple[str, str], tuple[Decimal, str, int | None, str]] = {}
    for iso, kind, items in markets:
        for service, (price, currency, stock) in cheapest(items).items():
            key = (service_slug(service), iso)
            if key not in best or price < best[key][0]:
                best[key] = (price, currency, stock, f"{service}|{kind}")
    return [
        Offer(NAME, slug, iso, to_minor(price * (days or 1), cur), cur, stock, product, days)
        for (slug, iso), (price, cur, stock, product) in sorted(best.items())
        for days in rentals
    ]


def affirmed(body: object) -> bool:
    """A 2xx answer says it succeeded: a success marker (``code`` 0 / 200, ``success`` or ``ok`` true)
    or the order itself (an id or expiry, bare or under ``data``). A bare ``{"message": ...}`` does not."""
    if not isinstance(body, dict):
        return False
    if body.get("success") is True or body.get("ok") is True:
        return True
    if any((scalar(body.get(k)) or "").lower() in SUCCESS_WORDS for k in ("code", "status")):
        return True
    return first(unwrap_obj(body) or {}, *ORDER_ID_KEYS, *EXPIRY_KEYS) is not None


def renewed(body: object) -> datetime | None:
    """The new ``expireAt`` of a renew answer (None when it gives none); an answer that does not say it
    renewed (:func:`affirmed`) is UnclearResult: the money may be spent, or not."""
    if not affirmed(body):
        log.warning("%s: renew answer does not say it succeeded, outcome unknown", NAME)
        raise errors.UnclearResult("renew answer does not say it succeeded; outcome unknown", provider=NAME)
    return expiry(unwrap_obj(body) or {})


def order_ref(upstream_id: str) -> str:
    """The order id in an upstream id: ``"19"``, also from an older ``"19|<binding key>"`` form."""
    return upstream_id.partition("|")[0]


def expiry(data: Mapping[str, object]) -> datetime | None:
    """An order's ``expireAt`` (under any of :data:`EXPIRY_KEYS`), or None."""
    return parse_time(first(data, *EXPIRY_KEYS))


def purchase(body: object) -> Purchase | None:
    """The order in a purchase answer or ``/mine`` item; None without an order id or phone."""
    if (data := unwrap_obj(body)) is None:
        return None
    order_id = scalar(first(data, *ORDER_ID_KEYS))
    phone = scalar(first(data, "phone", "number", "phoneNumber", "phone_number"))
    if order_id is None or phone is None:
        return None
    cost = minor(first(data, "price", "amount", "cost"), currency_of(data.get("currency"), CURRENCY))
    return Purchase(order_id, phone, expiry(data), cost)


def newest_match(items: list[object], offer: Offer, since: datetime) -> Purchase | None:
    """The newest ``/mine`` order for the offer's service and country created at or after ``since``."""
    service, _, kind = (offer.product_id or "").partition("|")
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    found: tuple[datetime, Purchase] | None = None
    for item in (i for i in items if isinstance(i, dict)):
        created = parse_time(first(item, *CREATED_KEYS))
        svc, country, card = first(item, "service", "serviceName"), item.get("country"), item.get("cardKind")
        if created is None or created < since or not isinstance(svc, str):
            continue
        if svc.lower() != service.lower() and service_slug(svc) != offer.service:
            continue
        if (isinstance(country, str) and country_code(country) != offer.country) or (kind and card not in (None, kind)):
            continue
        bought = purchase(item)
        if bought is not None and (found is None or created > found[0]):
            found = (created, bought)
    return found[1] if found else None


@dataclass(frozen=True, slots=True)
class OrderView:
    """What ``GET /orders/{id}`` tells about one order."""

    order_id: str
    display_no: str | None
    phone: str | None
    state: UpstreamState
    latest_code: str | None
    expires_at: datetime | None
    created_at: datetime | None


def order_view(body: object, order_id: str) -> OrderView:
    """``GET /orders/{id}``: ``status`` word via :data:`STATES` (unknown -> WAITING), ``latestCode``,
    ``expireAt`` and what ``messages.order_messages`` needs to pick this order's messages."""
    if (data := unwrap_obj(body)) is None:
        raise errors.BadResponse("order answer is not an object", provider=NAME)
    if first(data, *ORDER_KEYS) is None:  # e.g. a bare {"message": ...}: no order in it
        raise errors.BadResponse("order answer names no order (no status, code, id or expiry)", provider=NAME)
    word = str(data.get("status") or "").strip().lower()
    state = STATES.get(word)
    if state is None:
        parsing.warn_once(log, word, "%s: unknown order status %r, treated as waiting", NAME, word[:40])
        state = UpstreamState.WAITING
    return OrderView(
        order_id=str(first(data, *ORDER_ID_KEYS) or order_id),
        display_no=scalar(first(data, "displayOrderNo", "orderNo", "order_no")),
        phone=scalar(first(data, "phone", "number", "phoneNumber", "phone_number")),
        state=state,
        latest_code=scalar(first(data, "latestCode", "latest_code")),
        expires_at=expiry(data),
        created_at=parse_time(first(data, *CREATED_KEYS)),
    )


def order_status(order: OrderView, messages: list[Sms] | None) -> Status:
    """The order's Status: its messages (``None``: they could not be read), ``latestCode`` as the code
    of the message that carries it, or as a ``Code: <code>`` stand-in when none does; ``expireAt``."""
    sms = list(messages or ())
    code = order.latest_code
    if code is not None and not any(s.code == code for s in sms):
        carrier = next((i for i in reversed(range(len(sms))) if sms[i].code is None and code in sms[i].text), None)
        if carrier is None:  # its message is not (yet) in the list, or the list could not be read
            sms.append(Sms(text=f"Code: {code}", code=code))
        else:
            sms[carrier] = replace(sms[carrier], code=code)
    state = UpstreamState.RECEIVED if sms and order.state is UpstreamState.WAITING else order.state
    return Status(state, tuple(sms), order.expires_at)


def balance(body: object) -> Balance:
    """``balance`` (and ``currency``, USD when absent) at the top level or under ``data``."""
    data = body if isinstance(body, dict) and body.get("balance") is not None else unwrap_obj(body) or {}
    return to_balance(data.get("balance"), currency_of(data.get("currency"), CURRENCY), provider=NAME)
