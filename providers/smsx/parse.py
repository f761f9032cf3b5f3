"""SMSX answers and error table, per ``../shared/providers/004_b374185868213c15.txt``.

Catalogue parsers take the value under ``countries`` / ``services`` / ``prices``, skip (and log) rows
they cannot read, and raise ValueError only when the whole value has the wrong shape. :func:`raise_for`
maps SMSBower / partner error words and HTTP statuses onto :mod:`providers.errors`. The assumptions
where the document is silent are in :mod:`providers.smsx.client`.
"""

from __future__ import annotations

import logging
import re
from typing import NamedTuple

from providers import errors
from providers.base import Balance, Offer, Purchase, Sms, Status, UpstreamState
from providers.normalize import SERVICE_ALIASES, country_code, service_slug
from providers.parsing import currency_of, first, holder, minor, raise_error, scalar, scrub, to_balance, whole

log = logging.getLogger(__name__)

NAME = "smsx"
CURRENCY = "USD"
BY_WORD: dict[str, type[errors.ProviderError]] = {
    "NO_NUMBERS": errors.OutOfStock,
    "NO_BALANCE": errors.ProviderBalanceLow,
    **dict.fromkeys(("BAD_KEY", "PARTNER_USER_NOT_CONFIGURED"), errors.Unauthorized),
    **dict.fromkeys(("BAD_SERVICE", "WRONG_COUNTRY_ID", "BAD_ACTION"), errors.InvalidRequest),
    "OUTBOUND_SMS_NOT_CONFIGURED": errors.InvalidRequest,
    **dict.fromkeys(("NO_ACTIVATION", "WRONG_ACTIVATION_ID"), errors.OrderNotFound),
    **dict.fromkeys(("EARLY_CANCEL_DENIED", "BAD_STATUS"), errors.CancelRefused),
}
BY_STATUS = {**errors.status_errors(400, 401, 402, 403), 405: errors.InvalidRequest}
#: an error text saying our wallet cannot pay (the document names no such error: see the client's docstring)
LOW_FUNDS = re.compile(
    r"(?<![a-z])(?:insufficient[\W_]+(?:wallet|balance|funds|credit)|not[\W_]+enough[\W_]+(?:balance|funds|money)"
    r"|low[\W_]+(?:wallet[\W_]+)?balance|wallet[\W_]+(?:is[\W_]+)?empty|empty[\W_]+wallet)",
    re.IGNORECASE,
)


def known_word(text: str) -> str | None:
    """The first SMSBower / partner error word in ``text``, as spelt there."""
    return next((w for w in re.findall(r"\w+", text) if w.upper() in BY_WORD), None)


def raise_for(status: int, body: object, *, secret: str = "", path: str = "") -> None:
    """Raise the typed error for an SMSX answer, by error word first, HTTP status second; quiet on a
    success. ``secret`` is scrubbed from upstream text before any cut."""
    error = body.get("error") if isinstance(body, dict) else None
    error = str(error).strip() if error not in (None, "", False) else ""
    failed = isinstance(body, dict) and body.get("ok") is False
    if status < 400 and not error and not failed:
        return
    error = scrub(error, secret)
    found = known_word(error)  # the code: only a recognised protocol word, never free upstream text
    kind = BY_WORD.get(found.upper()) if found else None
    if kind is None and LOW_FUNDS.search(error):
        kind = errors.ProviderBalanceLow
    kind = kind or BY_STATUS.get(status)
    raise_error(kind, status, error[:200], secret=secret, provider=NAME, code=found)


STATES: dict[str, UpstreamState] = {
    "waiting": UpstreamState.WAITING,
    "received": UpstreamState.RECEIVED,
    "cancelled": UpstreamState.CANCELLED,
    "canceled": UpstreamState.CANCELLED,
    "expired": UpstreamState.EXPIRED,
    "finished": UpstreamState.FINISHED,
}


class PriceRow(NamedTuple):
    country_id: int
    service: str  # the upstream's own service code, sent back by rent_number
    cost: int | None  # minor units
    stock: int | None


def _items(raw: object, what: str) -> list[object]:
    if isinstance(raw, list):
        return raw
    if isinstance(raw, dict):  # keyed by id; the key stands in for a missing id
        return [{"id": k, **v} if isinstance(v, dict) else {"id": k, "name": v} for k, v in raw.items()]
    raise ValueError(f"{what} is neither a list nor an object")


def parse_countries(raw: object) -> dict[int, str]:
    """``{numeric id: ISO alpha-2}``: by the sms-activate id, by the name when the id is not mapped."""
    result: dict[int, str] = {}
    for item in _items(raw, "countries"):
        if not isinstance(item, dict):
            continue
        cid = whole(first(item, "id", "country_id", "country"))
        if cid is None:
            log.warning("smsx: country without a numeric id skipped")
            continue
        iso = country_code(cid)
        name = first(item, "eng", "name", "title")
        if iso == f"X{cid}" and isinstance(name, str):
            iso = country_code(name)
        result[cid] = iso
    return result


def parse_services(raw: object) -> dict[str, str]:
    """``{upstream code: slug}``: a known code (``tg``) by its alias, otherwise by its name."""
    result: dict[str, str] = {}
    for item in _items(raw, "services"):
        if isinstance(item, str):
            item = {"code": item}
        if not isinstance(item, dict):
            continue
        code = first(item, "code", "id", "service", "short_name")
        if not isinstance(code, str):
            continue
        name = first(item, "name", "title", "eng")
        known = code.strip().lower() in SERVICE_ALIASES
        result[code] = service_slug(code if known or not isinstance(name, str) else name)
    return result


def _row(cid: object, code: object, entry: object, currency: str) -> PriceRow | None:
    country_id = whole(cid)
    if country_id is None or not isinstance(code, str) or not code:
        return None
    price: object = entry
    stock: object = None
    if isinstance(entry, dict):
        price, stock = first(entry, "cost", "price"), first(entry, "count", "stock")
    cost = minor(price, currency)
    if cost is None and price not in (None, ""):
        log.warning("smsx: unreadable price for %s in country %s skipped", code, country_id)
        return None
    return PriceRow(country_id, code, cost, whole(stock))


def parse_prices(raw: object, currency: str) -> list[PriceRow]:
    """``{country_id: {code: {cost, count}}}`` or a list of ``{country, service, price|cost, count|stock}``."""
    rows: list[PriceRow | None] = []
    if isinstance(raw, dict):
        for cid, services in raw.items():
            if isinstance(services, dict):
                rows.extend(_row(cid, code, entry, currency) for code, entry in services.items())
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict):
                cid, code = first(item, "country", "country_id"), first(item, "service", "service_code", "code")
                rows.append(_row(cid, code, item, currency))
    else:
        raise ValueError("prices is neither an object nor a list")
    return [row for row in rows if row is not None]


def to_offers(
    rows: list[PriceRow],
    countries: dict[int, str],
    services: dict[str, str],
    *,
    country: str | None,
) -> list[Offer]:
    """One Offer per price row (in ``country`` only, when given); product_id is ``"code|country_id"``."""
    wanted = country.strip().upper() if country is not None else None
    offers = []
    for row in rows:
        iso = countries.get(row.country_id) or country_code(row.country_id)
        if wanted is None or iso == wanted:
            slug = services.get(row.service) or service_slug(row.service)
            pid = f"{row.service}|{row.country_id}"
            offers.append(Offer(NAME, slug, iso, row.cost, CURRENCY, row.stock, product_id=pid))
    return offers


def _text_sms(text: object, code: object) -> Sms | None:
    code = str(code).strip() if code not in (None, "") else None
    if text in (None, "") and code is None:
        return None
    return Sms(text=str(text) if text not in (None, "") else f"Code: {code}", code=code)


def parse_sms(body: dict[str, object]) -> tuple[Sms, ...]:
    """A status answer's SMS: a history list under ``sms``, else the latest ``sms`` / ``text`` + ``otp``."""
    history = body.get("sms")
    if isinstance(history, list):
        items = [{"text": item} if isinstance(item, str) else item for item in history]
        found = [
            _text_sms(first(i, "text", "sms", "message"), first(i, "otp", "code")) for i in items if isinstance(i, dict)
        ]
    else:
        found = [_text_sms(first(body, "sms", "text"), body.get("otp"))]
    return tuple(sms for sms in found if sms is not None)


def purchase(body: dict[str, object]) -> Purchase:
    """The ``rent_number`` answer (at the top level or under ``data``); unreadable is UnclearResult."""
    data = holder(body)
    upstream_id = scalar(first(data, "activation_id", "id", "activationId"))
    phone = scalar(first(data, "phone", "number", "phone_number"))
    if upstream_id is None or phone is None:
        raise errors.UnclearResult("rent_number answer lacks an activation id or phone", provider=NAME)
    return Purchase(upstream_id=upstream_id, phone=phone, cost=minor(first(data, "cost", "price"), CURRENCY))


def balance(body: dict[str, object]) -> Balance:
    """The ``wallet`` answer: a number, or an object with ``balance`` / ``amount``, maybe under ``data``."""
    data = holder(body)
    amount = first(data, "balance", "wallet_balance", "wallet")
    nested = amount if isinstance(amount, dict) else {}
    if nested:
        amount = first(nested, "balance", "amount")
    code = currency_of(first(nested, "currency") or first(data, "currency"), CURRENCY)
    return to_balance(amount, code, provider=NAME)


def status(body: dict[str, object], *, secret: str = "") -> Status:
    """A ``status`` answer; ``unknown`` with an SMSBower error in ``raw`` maps like an error, any other
    unknown word is BadResponse quoting at most 40 characters of ``raw`` (``secret`` scrubbed)."""
    word = str(body.get("status") or "").strip().lower()
    if word not in STATES:  # "unknown": raw is whatever SMSBower said, quoted briefly
        raw = scrub(str(body.get("raw") or ""), secret)[:200]
        log.warning("%s: status %r, raw %r", NAME, word[:20], raw[:40])
        if found := known_word(raw):
            raise_for(200, {"error": found})
        raise errors.BadResponse(f"status {word[:20]!r}, raw {raw[:40]!r}", provider=NAME, code="unknown")
    sms = parse_sms(body)
    if STATES[word] is UpstreamState.RECEIVED and not sms:
        raise errors.BadResponse("status received without otp or text", provider=NAME)
    return Status(state=STATES[word], sms=sms)
