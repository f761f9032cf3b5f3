"""Cutting a long HTML text (an operator's /terms) into messages that fit Telegram's limit.

Telegram counts a message's length after parsing its entities (tags count nothing, ``&lt;`` one), in
UTF-16 code units. The text is cut between lines where it can, inside a line only when one line alone is
too long; a tag open at a cut is closed at the end of one message and opened again at the start of the
next, so each message is valid HTML on its own. Only Telegram's tags are accepted: anything else (an
unknown tag, a bare ``<``, tags that do not nest) raises ValueError, for the caller to send the text as
plain text instead.
"""

from __future__ import annotations

import re
from html import escape, unescape

from handlers.texts.limits import TEXT_LIMIT, units

#: the tags of Telegram's HTML parse mode
TELEGRAM_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji", "code"}
    | {"pre", "blockquote"}
)
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)([^<>]*)>")


def _tokens(text: str) -> list[tuple[str, str]]:
    """``("open" | "close", raw tag)`` and ``("text", visible text)``, in order; ValueError for what
    Telegram would refuse."""
    tokens: list[tuple[str, str]] = []
    stack: list[str] = []
    pos = 0
    for match in _TAG.finditer(text):
        tokens.append(("text", _visible(text[pos : match.start()])))
        closing, name = match.group(1), match.group(2).lower()
        if name not in TELEGRAM_TAGS:
            raise ValueError(f"unsupported tag <{name}>")
        if closing:
            if not stack or stack.pop() != name:
                raise ValueError(f"unmatched </{name}>")
            tokens.append(("close", match.group(0)))
        else:
            stack.append(name)
            tokens.append(("open", match.group(0)))
        pos = match.end()
    tokens.append(("text", _visible(text[pos:])))
    if stack:
        raise ValueError(f"<{stack[-1]}> is never closed")
    return [token for token in tokens if token != ("text", "")]


def _visible(raw: str) -> str:
    if "<" in raw or ">" in raw:
        raise ValueError("a bare < or > outside a tag")
    return unescape(raw)


def _pieces(visible: str, limit: int) -> list[str]:
    """The text in lines (each keeps its newline), a line longer than ``limit`` cut into parts that fit."""
    pieces: list[str] = []
    for line in visible.splitlines(keepends=True):
        while units(line) > limit:
            part = line.encode("utf-16-le")[: limit * 2].decode("utf-16-le", errors="ignore")
            pieces.append(part)
            line = line[len(part) :]
        if line:
            pieces.append(line)
    return pieces


def split_html(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """``text`` (Telegram HTML) as one or more messages of at most ``limit`` visible characters each."""
    chunks: list[str] = []
    opened: list[tuple[str, str]] = []  # (tag name, raw opening tag), outermost first
    parts: list[str] = []
    size = 0

    def close_chunk() -> None:
        nonlocal parts, size
        body = "".join(parts) + "".join(f"</{name}>" for name, _ in reversed(opened))
        if unescape(_TAG.sub("", body)).strip():
            chunks.append(body.strip())
        parts, size = [raw for _, raw in opened], 0

    for kind, value in _tokens(text):
        if kind == "open":
            opened.append((_TAG.match(value).group(2).lower(), value))  # type: ignore[union-attr]
            parts.append(value)
        elif kind == "close":
            opened.pop()
            parts.append(value)
        else:
            for piece in _pieces(value, limit):
                if size + units(piece) > limit and size:
                    close_chunk()
                parts.append(escape(piece, quote=False))
                size += units(piece)
    close_chunk()
    return chunks
