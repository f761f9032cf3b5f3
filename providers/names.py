"""Canonical service slugs, their display names, and the country presentation helpers."""

from __future__ import annotations

from functools import cache

import pycountry
from babel import Locale, UnknownLocaleError
from pyuca import Collator

SERVICE_NAMES: dict[str, str] = {
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "google": "Google",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "twitter": "X (Twitter)",
    "tiktok": "TikTok",
    "amazon": "Amazon",
    "microsoft": "Microsoft",
    "apple": "Apple",
    "discord": "Discord",
    "viber": "Viber",
    "wechat": "WeChat",
    "uber": "Uber",
    "netflix": "Netflix",
    "openai": "OpenAI",
    "paypal": "PayPal",
    "yahoo": "Yahoo",
    "snapchat": "Snapchat",
    "linkedin": "LinkedIn",
    "line": "LINE",
    "signal": "Signal",
    "vk": "VK",
    "ok": "OK.ru",
    "shopee": "Shopee",
    "tinder": "Tinder",
    "airbnb": "Airbnb",
    "steam": "Steam",
    "other": "Any other",
}


def service_name(slug: str) -> str:
    """Display name of a canonical slug; an unmapped upstream name is shown as it came."""
    return SERVICE_NAMES.get(slug, slug.replace("_", " ").title())


def country_name(code: str, locale: str = "en") -> str:
    """The name of an ISO 3166-1 alpha-2 code in ``locale``: CLDR's (through Babel) for a translation
    (``"DE", "ru"`` -> ``"Германия"``), ISO's short English name for English (``"US"`` -> ``"United
    States"``, as the bot always wrote it); the English name where CLDR has none, the code for an
    unknown one."""
    upper = code.upper()
    if locale != "en" and (name := _territories(locale).get(upper)):
        return name
    country = pycountry.countries.get(alpha_2=upper)
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name


def sort_key(name: str) -> tuple[int, ...]:
    """How names are ordered in a list: the Unicode Collation Algorithm's key (pyuca, with the Unicode
    collation table), which puts every script's letters in alphabetical order, its own extra letters
    included: Ukrainian Є after Е and І after И, Persian پ after ب and گ after ک, where code points would
    put them after the whole alphabet. Case and accents come second (``"Île"`` beside ``"Irak"``). The
    table (about 10 MB) is loaded at the first non-English list."""
    return _collator().sort_key(name)


@cache
def _collator() -> Collator:
    return Collator()


@cache
def _territories(locale: str) -> dict[str, str]:
    try:
        return dict(Locale.parse(locale).territories)
    except (ValueError, UnknownLocaleError):
        return {}


def flag(code: str) -> str:
    """The flag emoji: two regional indicator symbols; a globe for anything not alpha-2."""
    if len(code) != 2 or not code.isalpha():
        return "🌐"
    return "".join(chr(0x1F1E6 + ord(ch) - ord("A")) for ch in code.upper())
