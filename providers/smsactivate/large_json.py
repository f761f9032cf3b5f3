"""JSON replies too large to decode in one go: ``getActiveActivations`` lists every open activation, 2.5 MB for
10,000 of them, and one ``json.loads`` of that holds the interpreter for some 45 ms, whichever thread runs it.

:func:`decoded` reads a large reply one member at a time (the top level's, and its lists' and maps' own), so a
worker thread decoding it lets the event loop in between; the result is exactly what
:func:`providers.parsing.loads` gives (numbers with a fraction as Decimal, None for anything but JSON). Inside
:func:`decoding_once` a reply read several times (its error words, then its answer) is decoded once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from json.decoder import WHITESPACE, scanstring

from providers import parsing

#: characters from which a reply is decoded member by member (shorter ones in one go)
LARGE = 65_536
#: levels decoded member by member: the top level and what it holds; deeper values in one go
SPLIT_DEPTH = 2

_DECODER = json.JSONDecoder(parse_float=Decimal)  # what parsing.loads uses
#: replies already decoded inside :func:`decoding_once`, by identity
_DECODED: ContextVar[list[tuple[str, object]] | None] = ContextVar("smsactivate_decoded", default=None)


@contextmanager
def decoding_once() -> Iterator[None]:
    """Within it, :func:`decoded` remembers what it decoded (dropped on leaving)."""
    token = _DECODED.set([])
    try:
        yield
    finally:
        _DECODED.reset(token)


def decoded(text: str) -> object:
    """``text`` as JSON, None when it is not; remembered inside :func:`decoding_once` (by its text without
    the whitespace around it, which JSON ignores: the caller may have stripped it)."""
    memo = _DECODED.get()
    if memo is None:
        return loads(text)
    key = text.strip()
    for seen, body in memo:
        if seen is key or seen == key:
            return body
    body = loads(key)
    memo.append((key, body))
    return body


def loads(text: str) -> object:
    """:func:`providers.parsing.loads`, member by member when ``text`` is large."""
    if len(text) < LARGE:
        return parsing.loads(text)
    try:
        body, end = _value(text, _skip(text, 0), 0)
        if _skip(text, end) != len(text):
            raise ValueError("extra data")
    except (ValueError, IndexError):  # not JSON, or a shape this reader does not split: as a whole
        return parsing.loads(text)
    return body


def _skip(text: str, at: int) -> int:
    match = WHITESPACE.match(text, at)
    return match.end() if match else at


def _value(text: str, at: int, depth: int) -> tuple[object, int]:
    """The value starting at ``at`` and the index after it."""
    if depth < SPLIT_DEPTH and text[at] == "[":
        return _array(text, at + 1, depth + 1)
    if depth < SPLIT_DEPTH and text[at] == "{":
        return _object(text, at + 1, depth + 1)
    return _DECODER.raw_decode(text, at)


def _array(text: str, at: int, depth: int) -> tuple[list[object], int]:
    items: list[object] = []
    at = _skip(text, at)
    if text[at] == "]":
        return items, at + 1
    while True:
        item, at = _value(text, at, depth)
        items.append(item)
        at = _skip(text, at)
        if text[at] == "]":
            return items, at + 1
        at = _skip(text, _expect(text, at, ","))


def _object(text: str, at: int, depth: int) -> tuple[dict[str, object], int]:
    members: dict[str, object] = {}  # a repeated key keeps its first place and its last value, as json does
    at = _skip(text, at)
    if text[at] == "}":
        return members, at + 1
    while True:
        key, at = scanstring(text, _expect(text, at, '"'))
        members[key], at = _value(text, _skip(text, _expect(text, _skip(text, at), ":")), depth)
        at = _skip(text, at)
        if text[at] == "}":
            return members, at + 1
        at = _skip(text, _expect(text, at, ","))


def _expect(text: str, at: int, char: str) -> int:
    """The index after ``char``, which must stand at ``at``."""
    if text[at] != char:
        raise ValueError(f"expected {char!r} at {at}")
    return at + 1
