"""Exact conversions between upstream decimal amounts and integer minor units."""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, Inexact, InvalidOperation, Rounded, localcontext
from functools import cache

from babel import Locale
from babel.numbers import NumberPattern, parse_pattern

#: digits after the point, per ISO 4217 currency (IDR is quoted in whole rupiah by upstreams)
EXPONENTS: dict[str, int] = {"IDR": 0, "JPY": 0, "KRW": 0, "VND": 0, "XTR": 0}

#: the most money, in minor units, that any amount or balance may hold: the database refuses more
#: (migration 6), so a sum can never overflow SQLite's 64-bit integers into a float
MONEY_BOUND = 10**15

#: what a person may type as an amount: digits with at most one decimal point or comma, nothing else
#: (no sign, exponent, ``nan`` or ``inf``, no digits from other scripts)
_PLAIN_AMOUNT = re.compile(r"(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)", re.ASCII)
_AMOUNT_CHARS = 32


def exponent(currency: str) -> int:
    return EXPONENTS.get(currency.upper(), 2)


def to_minor(value: object, currency: str) -> int:
    """Parse ``value`` (str, int or Decimal; never float) into minor units, rounding up.

    Raises ValueError for floats, booleans and anything that is not a finite number.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("money must not be a float; parse JSON with parse_float=Decimal")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    try:
        scaled = amount.scaleb(exponent(currency))
        return int(scaled.to_integral_value(rounding=ROUND_CEILING))
    except ArithmeticError as exc:  # beyond what Decimal or int can hold (1e999999999)
        raise ValueError(f"not an amount: {value!r}") from exc


def format_minor(amount: int, currency: str) -> str:
    """``1250, "USD"`` -> ``"12.50"``."""
    exp = exponent(currency)
    if exp == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp)
    return f"{sign}{whole}.{frac:0{exp}d}"


def format_localized(amount: int, currency: str, locale: str) -> str:
    """``1370, "USD"`` as the locale writes money, from CLDR through Babel: ``"1,37 $"`` in ``ru``,
    ``"US$ 1,37"`` in ``pt``. Always the currency's own number of decimals (XTR none), exactly: the minor
    units become a Decimal, never a float. A currency written in letters is kept apart from the digits
    (``"XTR 500"``, ``"Rp 15.000"``), as CLDR's currency spacing asks and Babel does not do."""
    exp = exponent(currency)
    pattern = _currency_pattern(locale, exp)
    text = pattern.apply(Decimal(amount).scaleb(-exp), _locale(locale), currency=currency, currency_digits=False)
    return _LETTER_DIGIT.sub("\xa0", text)


#: the point between a currency's letters and the amount's digits, either way round
_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


@cache
def _currency_pattern(locale: str, exp: int) -> NumberPattern:
    """The locale's standard currency pattern with ``exp`` decimals (``apply`` reads, never changes it)."""
    pattern = parse_pattern(_locale(locale).currency_formats["standard"].pattern)
    pattern.frac_prec = (exp, exp)
    return pattern


@cache
def _locale(locale: str) -> Locale:
    return Locale.parse(locale)


def parse_amount(text: str, currency: str, maximum: int | None = None) -> int:
    """Strict user input: ``"5.50"`` -> 550.

    Raises ValueError for anything but a plain positive decimal number (no sign, exponent, ``nan``
    or ``inf``), for more decimals than the currency has, and for more than ``maximum`` minor units
    (never more than :data:`MONEY_BOUND`). Parsed with Decimal, exactly; never through float.
    """
    cleaned = text.strip()
    if len(cleaned) > _AMOUNT_CHARS or not _PLAIN_AMOUNT.fullmatch(cleaned):
        raise ValueError(f"not a plain amount: {text!r}")
    limit = MONEY_BOUND if maximum is None else min(maximum, MONEY_BOUND)
    with localcontext() as ctx:  # exact: 32 characters fit in 64 digits, and rounding would raise
        ctx.prec = 64
        ctx.traps[Inexact] = ctx.traps[Rounded] = True
        try:
            scaled = Decimal(cleaned.replace(",", ".")).scaleb(exponent(currency))
        except (ArithmeticError, ValueError) as exc:
            raise ValueError(f"not an amount: {text!r}") from exc
        if scaled != scaled.to_integral_value():
            raise ValueError(f"too many decimals for {currency}: {text!r}")
        if not 0 < scaled <= limit:
            raise ValueError(f"not an amount from the smallest unit to {limit} minor units: {text!r}")
        return int(scaled)
