"""Every shipped catalog is complete and safe to render: no empty or fuzzy message, every plural form of
its language, the source's placeholders and HTML tags, Telegram-valid HTML, and in a right-to-left
language no line that a Latin fragment would turn left-to-right. The template matches the code."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.app import LOCALES
from bot.languages import LANGUAGES, RIGHT_TO_LEFT
from tests.fakes import telegram_objects as tg

#: a bare "&" that starts no entity: Telegram asks for &amp;
_BARE_AMP = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")
_TAG = re.compile(r"</?([a-zA-Z][\w-]*)[^<>]*>")
RLM = "\u200f"


def catalog(language: str) -> Catalog:
    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=language)


def messages(language: str) -> list[Message]:
    return [m for m in catalog(language) if m.id]


def forms(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.id, tuple) else [message.string]


def sources(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple) else [message.id]


def fields(text: str) -> Counter[str]:
    """The ``str.format`` fields of ``text`` (``{amount}``, ``{n:d}``), counted; raises on a stray brace."""
    return Counter(
        "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
        for _, name, spec, conv in string.Formatter().parse(text)
        if name is not None
    )


class _Latin:
    """A field's value as a screen gets it at worst: Latin letters, whatever the format spec."""

    def __format__(self, spec: str) -> str:
        return "Ab1"


def filled(text: str) -> str:
    """``text`` formatted with a Latin value in every field."""
    return text.format_map({name: _Latin() for _, name, _, _ in string.Formatter().parse(text) if name is not None})


def tags(text: str) -> Counter[str]:
    return Counter(match.group(0).split()[0].rstrip(">").lower() for match in _TAG.finditer(text))


def first_strong(line: str) -> str | None:
    """The bidi class of the first strong character of a line as Telegram lays it out (tags aside): L, R or AL."""
    for ch in _TAG.sub("", line):
        if ch == RLM:
            return "R"
        kind = unicodedata.bidirectional(ch)
        if kind in ("L", "R", "AL"):
            return kind
    return None


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(language: str) -> None:
    cat = catalog(language)
    assert not cat.fuzzy, f"{language}: the header is marked fuzzy: pybabel compile would skip the whole catalog"
    missing = [m.id for m in messages(language) if m.fuzzy or not all(forms(m))]
    assert not missing, f"{language}: {len(missing)} untranslated or fuzzy, first: {missing[:3]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_plural_has_each_form_of_its_language(language: str) -> None:
    cat = catalog(language)
    plurals = [m for m in messages(language) if isinstance(m.id, tuple)]
    assert plurals, "the catalog holds no plural: ngettext was not extracted"
    assert {len(m.string) for m in plurals} == {cat.num_plurals}, language


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_source_placeholders(language: str) -> None:
    """Each translation has the source's ``str.format`` fields, no more and no fewer; a plural's form for one
    or two ("دقيقتان") may spell out its count, one field fewer. The last form has them all."""
    wrong = []
    for m in messages(language):
        want, texts = fields(sources(m)[-1]), forms(m)
        for n, form in enumerate(texts):
            got = fields(form)
            spelled_out = n < len(texts) - 1 and not got - want and len(want - got) <= 1
            if got != want and not spelled_out:
                wrong.append((m.id, form))
    assert not wrong, f"{language}: {wrong[:3]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_are_telegram_html_with_the_source_tags(language: str) -> None:
    wrong = []
    for m in messages(language):
        for form in forms(m):
            try:
                tg.render(filled(form), "HTML")
            except tg.ApiError as exc:
                wrong.append((m.id, form, exc.description))
                continue
            if tags(form) != tags(sources(m)[-1]) or _BARE_AMP.search(form):
                wrong.append((m.id, form, "tags differ from the source's, or a bare &"))
    assert not wrong, f"{language}: {wrong[:3]}"


@pytest.mark.parametrize("language", sorted(RIGHT_TO_LEFT))
def test_no_right_to_left_line_starts_left_to_right(language: str) -> None:
    """Telegram sets a paragraph's direction by its first strong character: a Persian line that starts with
    {service} (WhatsApp) or /cancel reads left to right, its words out of order. Such a line starts with its
    own word or a right-to-left mark (U+200F)."""
    wrong = []
    for m in messages(language):
        for form in forms(m):
            for line in filled(form).split("\n"):
                if first_strong(line) == "L":
                    wrong.append((m.id, line))
    assert not wrong, f"{language}: {len(wrong)} lines, first: {wrong[:3]}"


def test_the_template_holds_every_message_of_the_code() -> None:
    """``make messages`` was run after the last text change: the template, every catalog and the code agree,
    plurals included (extracted with the keywords of the Makefile)."""
    keywords = {"_": None, "__": None, "lazy_gettext": None, "ngettext": (1, 2), "lazy_ngettext": (1, 2)}
    code = {
        message
        for package in ("bot", "handlers")
        for _, _, message, _, _ in extract_from_dir(LOCALES.parent / package, keywords=keywords)
    }
    with (LOCALES / "messages.pot").open("rb") as f:
        template = {m.id for m in read_po(f) if m.id}
    assert code == template, f"run make messages: new {sorted(code - template)[:3]}, gone {sorted(template - code)[:3]}"
    assert any(isinstance(message, tuple) for message in code), "no plural extracted"
    for language in LANGUAGES:
        assert {m.id for m in messages(language)} == code, f"{language}: run make messages"


@pytest.mark.parametrize("language", LANGUAGES)
def test_pybabel_compile_finds_no_error(language: str) -> None:
    """What ``pybabel compile`` checks (and ``make i18n`` stops on): a text Babel reads as printf-style
    (``5% of`` looks like ``%o``) needs the same in every translation, and plural forms their count."""
    errors = [(m.id, [str(e) for e in found]) for m, found in catalog(language).check()]
    assert not errors, f"{language}: {errors[:3]}"
