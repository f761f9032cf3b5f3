"""Pull the verification code out of an SMS text.

:func:`extract_code` works in three steps:

1. normalise: Arabic-Indic, Persian and full-width digits become ASCII; URLs, e-mail addresses, the
   ``<#>`` tag and the trailing 11-character app hash of Android's SMS Retriever are dropped;
2. mask: dates, times, decimals, amounts, durations and phone numbers are blanked out;
3. rank: every remaining standalone 4-8 digit group (``"583-920"`` and ``"123 456"`` count as one)
   is a candidate; the one closest to a keyword (``code``, ``код``, ``código``, ``验证码``,
   ``G-``...) wins, otherwise the first one that does not look like a year.

An alphanumeric code is only returned when it directly follows a label (``"code: AB12CD"``,
``"code is 123ABC78"``) and is 4-8 characters mixing upper-case letters *and* digits.
The ranking key is (next to a keyword, not a year, closeness to the keyword, earlier in the text).

A code an upstream hands over ready-made goes through :func:`upstream_code`: longer than
:data:`MAX_CODE_CHARS`, it is some other text, not a code.
"""

from __future__ import annotations

import bisect
import re

_LETTERS = "A-Za-zÀ-ɏЀ-ӿ"
#: a keyword this many characters away from a candidate or closer counts as "adjacent"
_NEAR = 40
#: an upstream's "code" longer than this (after trimming) is not a code: a whole SMS, an error page...
MAX_CODE_CHARS = 32

_DIGITS = {start + i: str(i) for start in (0x0660, 0x06F0, 0xFF10) for i in range(10)}

# step 1: text that is never a code
_NOISE = re.compile(
    r"<#>"
    r"|(?:https?://|www\.)\S+"  # URLs
    r"|(?<![\w.-])(?:[a-z0-9-]+\.)+[a-z]{2,}/\S*"  # bare host/path: t.me/login/12345
    r"|(?<![\w.+-])[\w.+-]*@[\w-]+(?:\.[\w-]+)+"  # e-mail addresses and Apple's "@apple.com"
    r"|\s[A-Za-z0-9+/]{11}\s*$",  # SMS Retriever app hash at the very end
    re.IGNORECASE,
)

# step 2: numbers that are something else; applied in this order
_MASKS = (
    # ISO and day-first dates with hyphens: 2026-03-21, 21-03-2026
    re.compile(r"(?<![0-9])(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}-[0-9]{1,2}-[0-9]{4})(?![0-9])"),
    # amounts: $12.50, R$ 1.234,56, Rp 50000, 1500 руб, 100 USD
    re.compile(
        r"(?:[$€£¥₽₹₺]|R\$|\bRp\.?|\b(?:USD|EUR|RUB|IDR|TRY)\b)\s?[0-9][0-9.,]*"
        r"|(?<![0-9.,])[0-9][0-9.,]*\s?(?:[$€£¥₽₹₺]|руб|р\.|\b(?:USD|EUR|RUB|IDR|TRY|TL|dollars?|euros?|reais|rupiah)\b)",
        re.IGNORECASE,
    ),
    # dates, times, decimals, fractions: 21.03.2026, 21/03, 12:30, 1,000
    re.compile(r"(?<![0-9])[0-9]+(?:[.,:/][0-9]+)+"),
    # durations and percentages: 10 minutes, 5分钟, 15%
    re.compile(
        r"(?<![0-9])[0-9]+\s?(?:%|分|秒|小时|(?:min(?:ute)?s?|minutos?|menit|minuten|dakika|мин\w*|"
        r"sec(?:ond)?s?|hours?|horas?|jam|stunden?|час\w*)\b)",
        re.IGNORECASE,
    ),
)
_PHONE_INTL = re.compile(r"\+[0-9][0-9 ().-]{6,}[0-9]")
_PHONE_LOCAL = re.compile(r"(?<![0-9])\(?[0-9]{1,4}\)?(?:[ .-]\(?[0-9]{1,4}\)?){2,}(?![0-9])")

# step 3: candidates and the keywords that point at them
_NUMERIC = re.compile(
    rf"(?<![{_LETTERS}0-9#№*•+@$€£¥₽/\\_])(?<![0-9][ -])"
    r"(?P<code>[0-9]{3}[ -][0-9]{3}|[0-9]{4}[ -][0-9]{4}|[0-9]{4,8})"
    rf"(?![{_LETTERS}0-9%_])(?![ -][0-9])"
)
_LABELLED = re.compile(
    r"(?i:code|kode|код|c[óo]digo)(?:\s*[:：]|\s+(?i:is|es|é|est|lautet)\b\s*[:：]?)\s*"
    r"(?P<code>[A-Z0-9]{4,8})(?![\w-])"
)
_KEYWORD = re.compile(
    r"code|kode|\bkod|c[óo]digo|код|\botp\b|\bpin\b|pass(?:word|code|wort)|senha|contrase[ñn]a|пароль"
    r"|şifre|verif|vérif|подтвержд|bestätigung|doğrulama|is your"
    r"|验证码|驗證碼|校验码|动态码|認証コード|確認コード|인증번호|رمز|كود"
    r"|(?-i:\b[A-Z]{1,3}-(?=[0-9]))",  # G-123456, FB-12345
    re.IGNORECASE,
)


def _mask_local_phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group())
    return " " if digits >= 9 else match.group()


def _clean(text: str) -> str:
    text = _NOISE.sub(" ", text.translate(_DIGITS))
    for mask in _MASKS:
        text = mask.sub(" ", text)
    text = _PHONE_INTL.sub(" ", text)
    return _PHONE_LOCAL.sub(_mask_local_phone, text)


def _distance(span: tuple[int, int], keywords: list[tuple[int, int]]) -> int | None:
    """Characters between ``span`` and the nearest keyword (sorted, non-overlapping), or None."""
    start, end = span
    i = bisect.bisect_left(keywords, (start, start))
    gaps = [max(start - kw_end, kw_start - end, 0) for kw_start, kw_end in keywords[max(i - 1, 0) : i + 1]]
    return min(gaps, default=None)


def _is_year(code: str) -> bool:
    return len(code) == 4 and 1900 <= int(code) <= 2099


def extract_code(text: str) -> str | None:
    """Return the verification code in ``text`` (digits only, or a labelled A-Z/0-9 code), or None."""
    if not text:
        return None
    text = _clean(text)
    keywords = [m.span() for m in _KEYWORD.finditer(text)]
    ranked: list[tuple[tuple[bool, bool, int, int], str]] = []
    for m in _NUMERIC.finditer(text):
        code = re.sub(r"[ -]", "", m.group("code"))
        gap = _distance(m.span("code"), keywords)
        near = gap is not None and gap <= _NEAR
        if not near and _is_year(code):
            continue  # a year with no keyword next to it is never worth a guess
        closeness = -gap if gap is not None and near else 0
        ranked.append(((near, not _is_year(code), closeness, -m.start()), code))
    for m in _LABELLED.finditer(text):
        code = m.group("code")
        if any(ch.isdigit() for ch in code) and any(ch.isalpha() for ch in code):
            ranked.append(((True, True, -(_distance(m.span("code"), keywords) or 0), -m.start()), code))
    return max(ranked)[1] if ranked else None


def upstream_code(code: str | None) -> str | None:
    """The code an upstream extracted itself, trimmed; None when empty or longer than MAX_CODE_CHARS."""
    code = (code or "").strip()
    return code if 0 < len(code) <= MAX_CODE_CHARS else None
