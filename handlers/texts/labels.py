"""Translated labels for stored values, shared by the user's and the operator's screens: order statuses,
ledger kinds, the demo mark, country names (CLDR's, in the reader's language). A raw value never reaches a
screen; an unknown one shows as "other"."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from aiogram.utils.i18n import gettext as _

from bot import languages
from providers.names import country_name, service_name, sort_key
from storage.orders import OrderStatus


def order_status(status: str) -> str:
    """An order status in a list or a report: ``code_received`` reads "code received"."""
    labels: dict[str, str] = {
        OrderStatus.PENDING: _("pending"),
        OrderStatus.ACTIVE: _("active"),
        OrderStatus.CODE_RECEIVED: _("code received"),
        OrderStatus.COMPLETED: _("completed"),
        OrderStatus.CANCELLED: _("cancelled"),
        OrderStatus.EXPIRED: _("expired"),
        OrderStatus.FAILED: _("failed"),
        OrderStatus.UNKNOWN: _("unclear"),
    }
    return labels.get(status, _("other"))


def ledger_kind(kind: str) -> str:
    """What a ledger row is, as the user reads it in the balance history."""
    labels = {
        "purchase": _("purchase"),
        "refund": _("refund"),
        "renewal": _("renewal"),
        "topup": _("top-up"),
        "promo": _("promo code"),
        "admin_credit": _("top-up"),
        "admin_debit": _("correction"),
        "stars_refund": _("Stars refund"),
        "stars_refund_reversal": _("Stars refund reversed"),
        "outbound_sms": _("SMS sent"),
        "outbound_sms_refund": _("SMS refund"),
        "referral": _("referral bonus"),
    }
    return labels.get(kind, _("other"))


def demo() -> str:
    """The mark on every screen of a simulated order."""
    return _("DEMO")


def service(slug: str) -> str:
    """A service's name: the brand as it is written everywhere (WhatsApp), "any other" in the reader's
    language."""
    if slug == "other":
        return _("Any other")
    return service_name(slug)


def country(code: str) -> str:
    """The country's name in the language of the screen (``"DE"`` reads ``"Германия"`` in Russian)."""
    return country_name(code, languages.current())


def by_country_name(codes: list[str]) -> list[str]:
    """Country codes in the order of their names in the language of the screen."""
    return _sorted(languages.current(), tuple(codes))


@lru_cache(maxsize=64)
def _sorted(locale: str, codes: tuple[str, ...]) -> list[str]:
    if locale == languages.DEFAULT:  # as English lists always were: by the plain name
        return sorted(codes, key=country_name)
    return sorted(codes, key=lambda code: sort_key(country_name(code, locale)))


#: the right-to-left mark: a line that starts with it is laid out right to left
RLM = "\u200f"
_TAG = re.compile(r"<[^<>]*>")


def line(text: str) -> str:
    """A line put together in code (a button, /help's command list), safe on a right-to-left screen: in
    Persian or Arabic, a line whose first letter is Latin (a brand, a /command) would be laid out left to
    right, its words out of order; it gets a right-to-left mark first. Elsewhere unchanged."""
    if languages.current() not in languages.RIGHT_TO_LEFT:
        return text
    for ch in _TAG.sub("", text):
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return text
        if kind == "L":
            return RLM + text
    return text
