"""Canonical service slugs, their display names, and the country presentation helpers."""

from __future__ import annotations

import pycountry

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


def country_name(code: str) -> str:
    """English short name of an ISO 3166-1 alpha-2 code (``"US"`` -> ``"United States"``)."""
    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name


def flag(code: str) -> str:
    """The flag emoji: two regional indicator symbols; a globe for anything not alpha-2."""
    if len(code) != 2 or not code.isalpha():
        return "🌐"
    return "".join(chr(0x1F1E6 + ord(ch) - ord("A")) for ch in code.upper())
