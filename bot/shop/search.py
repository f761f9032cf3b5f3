"""Search by typing: what a user wrote, matched against the services and countries by their names in the
user's language and in English, the aliases people type (``bot/shop/aliases.py``) and typos.

Fuzzy scores come from rapidfuzz (``WRatio``: whole, partial and token-order matches on one 0-100 scale);
a text of three letters or fewer is only compared whole (``ratio``), so "in" or "ok" is not found inside
every longer name. One best match at or above :data:`HIT` is a hit; below it, the names scoring at least
:data:`SUGGEST` are suggested.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import pycountry
from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process

from bot.shop.aliases import COUNTRY_ALIASES, SERVICE_ALIASES
from providers.names import SERVICE_NAMES, country_name, service_name

#: a match this good is taken as what the user meant
HIT = 82.0
#: a name scoring this well is offered when nothing is a hit
SUGGEST = 70.0
#: texts this short (after normalising) are compared whole only
SHORT = 3
#: longer input is cut: nobody types a service name this long, and the scorers are quadratic
MAX_QUERY = 64

Kind = Literal["service", "country"]

#: letters written two ways in Persian and Arabic text (Arabic yeh and kaf, alef maksura), and the Russian ё
_FOLD = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ё": "е", "ـ": None, "\u200c": " ", "\u200d": None})


@dataclass(frozen=True, slots=True)
class Hit:
    kind: Kind
    key: str  # a service slug or an ISO country code
    score: float


@dataclass(frozen=True, slots=True)
class Found:
    """What a text found: ``hit`` (None: nothing good enough) and the closest names, best first."""

    hit: Hit | None
    suggestions: tuple[Hit, ...] = ()


def normalize(text: str) -> str:
    """Lower case, compatibility forms folded, accents and Arabic vowel marks dropped, the letters written
    two ways in one form, punctuation as spaces: "WhatsApp!" and "whatsapp" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(default_process(unicodedata.normalize("NFKC", bare).translate(_FOLD)).split())


@dataclass(frozen=True, slots=True)
class _Index:
    names: tuple[str, ...]  # normalised, one per entry
    keys: tuple[tuple[Kind, str], ...]  # what each name stands for
    long: tuple[int, ...]  # positions of the names longer than SHORT: the ones WRatio is run against


@lru_cache(maxsize=32)
def _index(locale: str, services: tuple[str, ...]) -> _Index:
    entries: dict[str, tuple[Kind, str]] = {}

    def add(name: str, kind: Kind, key: str) -> None:
        if (normal := normalize(name)) and normal not in entries:  # the first owner keeps a shared name
            entries[normal] = (kind, key)

    for slug in services:  # services first: on a tie of scores, a service wins
        for name in (service_name(slug), slug.replace("_", " "), *SERVICE_ALIASES.get(slug, ())):
            add(name, "service", slug)
    for country in pycountry.countries:
        code = country.alpha_2
        for name in (country_name(code, locale), country_name(code), *COUNTRY_ALIASES.get(code, ())):
            add(name, "country", code)
        add(code, "country", code)
    names = tuple(entries)
    return _Index(names, tuple(entries.values()), tuple(i for i, n in enumerate(names) if len(n) > SHORT))


def known_services(sold: Iterable[str] = ()) -> tuple[str, ...]:
    """Every service with a name (the catalog's own ones and every mapped brand), "any other" left out."""
    return tuple(sorted((set(SERVICE_NAMES) | set(sold)) - {"other"}))


def search(text: str, locale: str, services: tuple[str, ...], limit: int = 5) -> Found:
    """The service or country ``text`` names, in ``locale`` or English; else up to ``limit`` suggestions."""
    query = normalize(text[: MAX_QUERY * 2])[:MAX_QUERY]
    if not query:
        return Found(None)
    index = _index(locale, services)
    if len(query) <= SHORT:
        positions = range(len(index.names))
        found = process.extract(query, index.names, scorer=fuzz.ratio, limit=limit * 4, score_cutoff=SUGGEST)
    else:
        positions = index.long
        choices = [index.names[i] for i in positions]
        found = process.extract(query, choices, scorer=fuzz.WRatio, limit=limit * 4, score_cutoff=SUGGEST)
    best: dict[tuple[Kind, str], Hit] = {}
    for _name, score, at in found:
        kind, key = index.keys[positions[at]]
        if (kind, key) not in best or best[(kind, key)].score < score:
            best[(kind, key)] = Hit(kind, key, score)
    ranked = sorted(best.values(), key=lambda h: (-h.score, h.kind != "service"))
    if ranked and ranked[0].score >= HIT:
        return Found(ranked[0], tuple(ranked[1:limit]))
    return Found(None, tuple(ranked[:limit]))
