"""Reply parsing and the error table of the sms-activate protocol, per ``../shared/providers/README.md``.

Replies are plain text (``ACCESS_NUMBER:<id>:<phone>``, ``NO_NUMBERS``) or JSON read with Decimal numbers.
Parsers return ``None`` on a shape they do not know; :func:`raise_for` maps protocol words (plain or
JSON-wrapped) and HTTP statuses onto :mod:`providers.errors`. Assumptions: :mod:`providers.smsactivate.client`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

from providers import errors
from providers.base import Sms, Status, UpstreamState
from providers.normalize import country_code
from providers.parsing import amount, first, loads, scalar, scrub, whole
from providers.smsactivate.large_json import decoded

#: a protocol word such as ``NO_NUMBERS`` or ``BANNED:2024-05-01 10:00:00``
_WORD = re.compile(r"^(?P<code>[A-Z][A-Z0-9_]*)(?::(?P<detail>.*))?$", re.DOTALL)
#: keys under which JSON-wrapped errors carry their code
_ERROR_KEYS = ("error", "message", "title", "msg")
HANDLER_PATH = "/stubs/handler_api.php"


def handler_url(base_url: str) -> str:
    """The full handler URL: a bare host (no path, or ``/``) gets ``/stubs/handler_api.php``."""
    parts = urlsplit(base_url.strip())
    return urlunsplit(parts._replace(path=HANDLER_PATH) if parts.path in ("", "/") else parts)


NAME = "smsactivate"
EARLY_CANCEL_RETRY = 120.0  # seconds: sms-activate refuses cancels in an activation's first two minutes
BY_WORD: dict[str, type[errors.ProviderError]] = {
    "NO_NUMBERS": errors.OutOfStock,
    "NO_BALANCE": errors.ProviderBalanceLow,
    **dict.fromkeys(("BAD_KEY", "BANNED"), errors.Unauthorized),
    **dict.fromkeys(("BAD_ACTION", "BAD_SERVICE", "BAD_STATUS", "WRONG_COUNTRY_ID"), errors.InvalidRequest),
    "WRONG_MAX_PRICE": errors.InvalidRequest,
    **dict.fromkeys(("NO_ACTIVATION", "WRONG_ACTIVATION_ID"), errors.OrderNotFound),
    "EARLY_CANCEL_DENIED": errors.CancelRefused,
    "ERROR_SQL": errors.Unavailable,
}
BY_STATUS = errors.status_errors(401, 403)


def raise_for(status: int, body: str, *, secret: str = "", provider: str = NAME) -> None:
    """Raise the typed error for a reply, by protocol word (plain or JSON-wrapped) first, HTTP status
    second; HTML or an empty body is BadResponse. Quiet for a possible success; scrubs ``secret``."""
    for code, detail in error_words(body):
        error = BY_WORD.get(code)
        if error is None:
            continue
        text = scrub(describe(code, detail), secret)[:300]
        if error is errors.CancelRefused:
            raise errors.CancelRefused(text, provider=provider, code=code, retry_after=EARLY_CANCEL_RETRY)
        raise error(text, provider=provider, code=code)
    stripped = body.strip()
    if status >= 500:
        raise errors.Unavailable(f"HTTP {status}", provider=provider)
    if status in BY_STATUS:
        raise BY_STATUS[status](f"HTTP {status}", provider=provider)
    if status >= 300 or not stripped or looks_like_html(stripped) or is_json_error(stripped):
        what = "empty body" if not stripped else "HTML page" if looks_like_html(stripped) else "unknown reply"
        raise errors.BadResponse(f"HTTP {status}: {what}", provider=provider)


def word(text: str) -> tuple[str, str] | None:
    """``"BANNED:2024-05-01"`` -> ``("BANNED", "2024-05-01")``; None for anything but a protocol word."""
    match = _WORD.match(text.strip())
    return (match["code"], (match["detail"] or "").strip()) if match else None


def error_words(text: str) -> list[tuple[str, str]]:
    """The reply's plain-text word, or the words under JSON error keys (``{"error": "NO_NUMBERS"}``)."""
    plain = word(text)
    if plain is not None:
        return [plain]
    body = decoded(text)
    if not isinstance(body, dict):
        return []
    found = [word(body[k]) for k in _ERROR_KEYS if isinstance(body.get(k), str)]
    return [w for w in found if w is not None]


def describe(code: str, detail: str) -> str:
    """The message for an error word (``BANNED`` says until when, ``WRONG_MAX_PRICE`` the minimum)."""
    if code == "BANNED":
        return f"account banned until {detail or 'an unknown time'}"
    if code == "WRONG_MAX_PRICE":
        return f"max price below the upstream's minimum {detail}".strip()
    return f"{code}: {detail}" if detail else code


def snippet(text: str, secret: str) -> str:
    """The start of an unexpected reply, for messages and logs, without ``secret``."""
    return scrub(text, secret)[:60]


def is_json_error(text: str) -> bool:
    return isinstance(body := decoded(text), dict) and str(body.get("status", "")).lower() == "error"


def looks_like_html(text: str) -> bool:
    return text.lstrip()[:1] == "<" or "<html" in text[:200].lower()


def prices(text: str) -> list[tuple[str, str, Decimal, int | None]] | None:
    """``getPrices`` -> ``[(country_id, service_code, cost, stock)]`` from ``{country: {service:
    {"cost": 0.35, "count": 120}}}`` (or ``price``/``stock``), or the V2 ``{service: {"0.35": 120}}``
    tiers: the cheapest price with stock is the cost, the stock is the sum over all prices."""
    rows: list[tuple[str, str, Decimal, int | None]] = []
    body = loads(text)
    if not isinstance(body, dict):
        return None
    for country_id, services in body.items():
        for service, entry in services.items() if isinstance(services, dict) else ():
            parsed = _price_entry(entry)
            if parsed is not None:
                rows.append((str(country_id), str(service), *parsed))
    return rows


def _price_entry(entry: object) -> tuple[Decimal, int | None] | None:
    if not isinstance(entry, dict):
        return None
    if "cost" in entry or "price" in entry:
        cost = amount(entry.get("cost", entry.get("price")))
        return (cost, whole(entry.get("count", entry.get("stock")))) if cost is not None else None
    tiers = [(p, n) for p, n in ((amount(k), whole(v)) for k, v in entry.items()) if p is not None and n is not None]
    if not tiers:
        return None
    return min([p for p, n in tiers if n] or [p for p, _ in tiers]), sum(n for _, n in tiers)


def country_names(text: str) -> dict[str, str]:
    """``getCountries`` -> ``{id: English name}`` (the ``eng`` field)."""
    entries = body.items() if isinstance(body := loads(text), dict) else ()
    return {str(e.get("id", k)): e["eng"] for k, e in entries if isinstance(e, dict) and isinstance(e.get("eng"), str)}


def number_v2(body: object) -> tuple[str, str, Decimal | None] | None:
    """``getNumberV2`` JSON -> ``(activation id, phone, cost)``; None without an id or phone."""
    if not isinstance(body, dict):
        return None
    upstream_id = first(body, "activationId", "activation_id", "id")
    number = first(body, "phoneNumber", "phone", "number", "phone_number")
    if not isinstance(upstream_id, str | int) or not isinstance(number, str | int):
        return None
    return str(upstream_id), phone(str(number)), amount(first(body, "activationCost", "cost", "price"))


def phone(value: str) -> str:
    """sms-activate sends international numbers without ``+``; add it to an all-digit number."""
    value = value.strip()
    return f"+{value}" if value.isdigit() else value


def purchase(text: str, v2: bool) -> tuple[str, str, Decimal | None] | None:
    """``ACCESS_NUMBER:<id>:<phone>`` (or the ``getNumberV2`` JSON) -> ``(id, phone, cost)``."""
    if v2:
        return number_v2(loads(text))
    parts = [p.strip() for p in text.strip().split(":")]
    if len(parts) != 3 or parts[0] != "ACCESS_NUMBER" or not parts[1] or not parts[2]:
        return None
    return parts[1], phone(parts[2]), None


def balance(text: str) -> Decimal | None:
    """``ACCESS_BALANCE:123.45`` -> ``Decimal("123.45")``."""
    parsed = word(text)
    return amount(parsed[1]) if parsed and parsed[0] == "ACCESS_BALANCE" else None


def status(text: str) -> Status | None:
    """``getStatus`` words -> :class:`Status`; the code arrives as ``Sms(text="Code: <code>")``."""
    state, code = word(text) or ("", "")
    if state in ("STATUS_WAIT_CODE", "STATUS_WAIT_RESEND"):
        return Status(UpstreamState.WAITING)
    if state == "STATUS_CANCEL":
        return Status(UpstreamState.CANCELLED)
    if state in ("STATUS_OK", "STATUS_WAIT_RETRY") and code:
        return Status(UpstreamState.RECEIVED, (Sms(text=f"Code: {code}", code=code),))
    return None


#: the word ``getActiveActivations`` answers (plain or JSON-wrapped) when nothing is open: an empty list
NO_ACTIVATIONS = "NO_ACTIVATIONS"
#: ``activationStatus`` values (the ``setStatus`` number, or a ``getStatus`` word) of a cancelled activation
CANCELLED = frozenset({"8", "STATUS_CANCEL"})


def active(text: str) -> dict[str, Status] | None:
    """``getActiveActivations`` -> ``{activation id: Status}``, each the Status :func:`status` gives for
    the same activation: RECEIVED with each code of ``smsCode`` as ``Sms("Code: <code>")``, CANCELLED
    for a cancelled ``activationStatus``, else WAITING. ``smsText`` is not used: ``getStatus`` has only
    the code, and both reads must store the same SMS. None when the answer has no activation list."""
    body = decoded(text)
    rows = body.get("activeActivations") if isinstance(body, dict) else None
    rows = list(rows.values()) if isinstance(rows, dict) else rows
    if not isinstance(rows, list):
        return None
    found: dict[str, Status] = {}
    for row in (r for r in rows if isinstance(r, dict)):
        upstream_id = scalar(first(row, "activationId", "activation_id", "id"))
        if upstream_id is not None:
            found[upstream_id] = _active_status(row)
    return found


def _active_status(row: dict[str, object]) -> Status:
    raw = row.get("smsCode")
    # every code listed, each as getStatus gives it: which end of the list is the newest is not documented,
    # and a code left out here would never be asked about one by one (the order is listed)
    codes = list(dict.fromkeys(c for c in (scalar(c) for c in (raw if isinstance(raw, list) else [raw])) if c))
    if scalar(row.get("activationStatus")) in CANCELLED:
        return Status(UpstreamState.CANCELLED)
    if not codes:
        return Status(UpstreamState.WAITING)
    return Status(UpstreamState.RECEIVED, tuple(Sms(text=f"Code: {code}", code=code) for code in codes))


def country(country_id: str, names: dict[str, str]) -> str:
    """ISO alpha-2 for a protocol country id; an id normalize does not know goes by its ``eng`` name."""
    if unmapped(country_id) and country_id in names:
        return country_code(names[country_id])
    return country_code(int(country_id)) if country_id.isdigit() else country_code(country_id)


def unmapped(country_id: str) -> bool:
    return country_id.isdigit() and country_code(int(country_id)) == f"X{int(country_id)}"
