"""Upstream spellings of countries and services mapped onto one catalog's keys.

Countries become ISO 3166-1 alpha-2 codes using pycountry's maintained data (alpha-2, alpha-3,
English names, a few trade spellings such as ``"uk"`` and ``"england"``) and the sms-activate
protocol's numeric ids. Services become canonical slugs (``"wa"`` -> ``"whatsapp"``). Anything
that does not map is kept under its own name (lower-cased, safe for callback data), never dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pycountry

#: sms-activate protocol country ids (also used by SMSBower and its resellers)
SMSACTIVATE_COUNTRIES: dict[int, str] = dict(
    enumerate(
        "RU UA KZ CN PH MM ID MY KE TZ VN KG US IL HK PL GB MG CD NG MO EG IN IE KH LA HT CI GM RS YE ZA RO CO EE "
        "AZ CA MA GH AR UZ CM TD DE LT HR SE IQ NL LV AT BY TH SA MX TW ES IR DZ SI BD SN TR CZ LK PE PK NZ GN ML "
        "VE ET MN BR AF UG AO CY FR PG MZ NP BE BG HU MD IT PY HN TN NI TL BO CR GT AE ZW PR SD TG KW SV LY JM TT "
        "EC SZ OM BA DO SY QA PA CU MR SL JO PT BB BI BJ BN BS BW BZ CF DM GD GE GR GW GY IS KM KN LR LS MW NA NE "
        "RW SK SR TJ MC BH RE ZM AM SO CG CL BF LB GA AL UY MU BT MV GP TM GF FI LC LU VC GQ DJ AG KY ME DK CH NO "
        "AU ER SS ST AW MS AI JP MK SC NC CV US PS FJ KR".split()
    )
)
SMSACTIVATE_COUNTRIES[12] = "US"  # id 12 is the US (virtual) range, 187 the US (physical)

ALIASES: dict[str, str] = {
    "uk": "GB",
    "england": "GB",
    "great britain": "GB",
    "britain": "GB",
    "usa": "US",
    "america": "US",
    "united states of america": "US",
    "russia": "RU",
    "south korea": "KR",
    "korea": "KR",
    "vietnam": "VN",
    "iran": "IR",
    "laos": "LA",
    "moldova": "MD",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "taiwan": "TW",
    "syria": "SY",
    "czech": "CZ",
    "czech republic": "CZ",
    "ivory coast": "CI",
    "drc": "CD",
    "congo (dem. republic)": "CD",
    "turkey": "TR",
    "uae": "AE",
    "macau": "MO",
    "palestine": "PS",
    "swaziland": "SZ",
    "cape verde": "CV",
    "macedonia": "MK",
    "kosovo": "XK",
}

SERVICE_ALIASES: dict[str, str] = {
    "wa": "whatsapp",
    "whats app": "whatsapp",
    "tg": "telegram",
    "go": "google",
    "gmail": "google",
    "youtube": "google",
    "fb": "facebook",
    "ig": "instagram",
    "insta": "instagram",
    "tw": "twitter",
    "x": "twitter",
    "lf": "tiktok",
    "tik tok": "tiktok",
    "am": "amazon",
    "mm": "microsoft",
    "outlook": "microsoft",
    "wx": "apple",
    "ds": "discord",
    "vi": "viber",
    "wb": "wechat",
    "ub": "uber",
    "nf": "netflix",
    "dr": "openai",
    "chatgpt": "openai",
    "ts": "paypal",
    "mb": "yahoo",
    "fu": "snapchat",
    "tn": "linkedin",
    "me": "line",
    "bw": "signal",
    "vk": "vk",
    "ok": "ok",
    "ka": "shopee",
    "oi": "tinder",
    "uk": "airbnb",
    "mt": "steam",
    "ot": "other",
    "any": "other",
}


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower().replace("_", " ").replace("-", " "))


@lru_cache(maxsize=4096)
def country_code(value: str | int) -> str:
    """ISO alpha-2 for an upstream country (``"indonesia"``, ``"US"``, ``"us"``, ``6``); else the
    input upper-cased and made safe, so an unmapped country is kept under its own name."""
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        found = SMSACTIVATE_COUNTRIES.get(int(value))
        return found or f"X{int(value)}"
    key = _key(value)
    if key in ALIASES:
        return ALIASES[key]
    if len(key) in (2, 3) and key.isalpha():
        country = pycountry.countries.get(alpha_2=key) if len(key) == 2 else pycountry.countries.get(alpha_3=key)
        if country is not None:
            return country.alpha_2
    for attr in ("name", "common_name", "official_name"):
        for country in pycountry.countries:
            if _key(getattr(country, attr, "") or "") == key:
                return country.alpha_2
    return re.sub(r"[^A-Z0-9]", "", key.upper())[:12] or "XX"


def service_slug(value: str) -> str:
    """Canonical slug for an upstream service code or name; unmapped ones keep their own name."""
    key = _key(value)
    if key in SERVICE_ALIASES:
        return SERVICE_ALIASES[key]
    return re.sub(r"[^a-z0-9]+", "_", key).strip("_")[:24].strip("_") or "other"
