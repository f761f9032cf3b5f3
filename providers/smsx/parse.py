"""Answer parsing for :mod:`providers.smsx`: catalogue (countries, services, prices) and status SMS.

Each parser takes the value under ``countries`` / ``services`` / ``prices``, skips (and logs) rows it
cannot read, and raises ValueError only when the whole value has the wrong shape.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import NamedTuple

from providers.base import Offer, Sms, UpstreamState
from providers.money import to_minor
from providers.normalize import SERVICE_ALIASES, country_code, service_slug

log = logging.getLogger(__name__)


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


def first(mapping: dict[str, object], *keys: str) -> object:
    """The first of ``keys`` whose value is present and not empty."""
    return next((mapping[k] for k in keys if mapping.get(k) not in (None, "")), None)


def _items(raw: object, what: str) -> list[object]:
    if isinstance(raw, list):
        return raw
    if isinstance(raw, dict):  # keyed by id; the key stands in for a missing id
        return [{"id": k, **v} if isinstance(v, dict) else {"id": k, "name": v} for k, v in raw.items()]
    raise ValueError(f"{what} is neither a list nor an object")


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def parse_countries(raw: object) -> dict[int, str]:
    """``{numeric id: ISO alpha-2}``: by the sms-activate id, by the name when the id is not mapped."""
    result: dict[int, str] = {}
    for item in _items(raw, "countries"):
        if not isinstance(item, dict):
            continue
        cid = _int(first(item, "id", "country_id", "country"))
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


def optional_cost(value: object, currency: str) -> int | None:
    """Minor units of an optional amount; None when absent or unreadable."""
    try:
        return to_minor(value, currency) if value not in (None, "") else None
    except ValueError:
        log.warning("smsx: unreadable amount ignored")
        return None


def _row(cid: object, code: object, entry: object, currency: str) -> PriceRow | None:
    country_id = _int(cid)
    if country_id is None or not isinstance(code, str) or not code:
        return None
    price: object = entry
    stock: object = None
    if isinstance(entry, dict):
        price, stock = first(entry, "cost", "price"), first(entry, "count", "stock")
    try:
        cost = to_minor(price, currency) if price is not None else None
    except ValueError:
        log.warning("smsx: unreadable price for %s in country %s skipped", code, country_id)
        return None
    return PriceRow(country_id, code, cost, _int(stock))


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
    provider: str,
    currency: str,
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
            offers.append(Offer(provider, slug, iso, row.cost, currency, row.stock, product_id=pid))
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
