"""Exact conversions between upstream decimal amounts and integer minor units."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, InvalidOperation

#: digits after the point, per ISO 4217 currency (IDR is quoted in whole rupiah by upstreams)
EXPONENTS: dict[str, int] = {"IDR": 0, "JPY": 0, "KRW": 0, "VND": 0, "XTR": 0}


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
    scaled = amount.scaleb(exponent(currency))
    return int(scaled.to_integral_value(rounding=ROUND_CEILING))


def format_minor(amount: int, currency: str) -> str:
    """``1250, "USD"`` -> ``"12.50"``."""
    exp = exponent(currency)
    if exp == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**exp)
    return f"{sign}{whole}.{frac:0{exp}d}"


def parse_amount(text: str, currency: str) -> int:
    """Strict user input: ``"5.50"`` -> 550. Raises ValueError for more decimals than the
    currency has, for non-positive amounts and for anything that is not a plain number."""
    cleaned = text.strip().replace(",", ".")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"not a positive amount: {text!r}")
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"too many decimals for {currency}: {text!r}")
    return int(scaled)
