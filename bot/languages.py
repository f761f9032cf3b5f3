"""The languages the bot speaks, and which of them a user reads: their own pick (/language) if they made
one, else the language of their Telegram app (``pt-BR`` reads Portuguese), else English."""

from __future__ import annotations

from collections.abc import Collection
from functools import cache, lru_cache

from aiogram.utils.i18n.context import get_i18n
from babel import Locale, UnknownLocaleError

from storage.users import User

#: every shipped translation, in the order /language lists them; the first is the source language
LANGUAGES: tuple[str, ...] = ("en", "ru", "uk", "fa", "ar", "id", "es", "pt", "tr")
DEFAULT = LANGUAGES[0]
#: written right to left: lines must start with a word of theirs, not a Latin fragment
RIGHT_TO_LEFT = frozenset({"fa", "ar"})


def match(language_code: str | None, available: Collection[str], default: str = DEFAULT) -> str:
    """The translation for a language tag (``pt-br``, ``uk-UA``, ``en``, empty, odd): its exact locale or
    its language if ``available`` has it, else ``default``. Asked on every update: remembered per tag."""
    return _match(language_code, tuple(available), default)


@lru_cache(maxsize=1024)
def _match(language_code: str | None, available: tuple[str, ...], default: str) -> str:
    try:
        locale = Locale.parse(language_code or "", sep="-")
    except (ValueError, TypeError, UnknownLocaleError):
        return default
    for candidate in (str(locale), locale.language):
        if candidate in available:
            return candidate
    return default


def of_user(user: User | None, available: Collection[str], default: str = DEFAULT) -> str:
    """The language a stored user reads: their pick, else their app's language, else ``default``."""
    if user is None:
        return default
    if user.language_choice and user.language_choice in available:
        return user.language_choice
    return match(user.language, available, default)


@cache
def native_name(language: str) -> str:
    """The language's name in itself, capitalised (``ru`` -> ``Русский``), from CLDR; Indonesian as its
    speakers name it in a language list (CLDR's "Indonesia" reads as the country)."""
    if language == "id":
        return "Bahasa Indonesia"
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def current() -> str:
    """The language of the screen being rendered: the locale of aiogram's i18n context, else the default
    (a log line, a stored reason)."""
    try:
        return get_i18n().current_locale
    except LookupError:
        return DEFAULT
