"""Fitting text into Telegram's limits: what Telegram counts of an HTML message, and cutting to a length."""

from __future__ import annotations

import re
from html import unescape

#: Telegram's limit for a message: characters after entity parsing, counted in UTF-16 code units
TEXT_LIMIT = 4096
#: the SMS in the short form of a code message, sent when Telegram refused the full one as too long
SHORT_SMS_CHARS = 500

_TAG = re.compile(r"<[^<>]*>")


def units(text: str) -> int:
    """The length Telegram counts: UTF-16 code units (an emoji outside the BMP counts two)."""
    return len(text.encode("utf-16-le")) // 2


def visible_length(html_text: str) -> int:
    """What Telegram counts of an HTML message: tags become entities and count nothing, ``&lt;`` counts one."""
    return units(unescape(_TAG.sub("", html_text)))


def cut(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters (UTF-16 units), else its start and "…" in ``limit``."""
    if units(text) <= limit:
        return text
    if limit <= 0:
        return ""
    start = text.encode("utf-16-le")[: (limit - 1) * 2].decode("utf-16-le", errors="ignore")  # no half emoji
    return start + "…"
