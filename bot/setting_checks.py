"""How each setting is read and checked: lists and JSON from the environment, amounts against CURRENCY,
URLs, the token's shape. :class:`bot.settings.Settings` declares the fields; this is its base (and
:mod:`bot.web_settings` checks the HTTP server's and the webhook's)."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator

from bot.web_settings import WebSettingChecks, http_url
from providers.money import MONEY_BOUND, exponent, format_minor, parse_amount

#: upstreams configured by ``<NAME>_API_KEY`` / ``<NAME>_BASE_URL``, with their documented base URLs
UPSTREAM_DEFAULT_URLS: dict[str, str] = {
    "smscartesim": "https://smscartesim.com/api/v1",
    "simsmsbox": "https://api.simsmsbox.com",
    "ismscode": "https://ismscode.com/api/v3",
    "smscode": "https://api.smscode.gg/v1",
    "smsx": "https://mail.smsx.site",
}


#: settings holding a URL: the Bot API's and each upstream's
URL_SETTINGS = ("telegram_api_url", "smsactivate_base_url", *(f"{n}_base_url" for n in UPSTREAM_DEFAULT_URLS))

#: value of one unit of each currency in US dollars (override with USD_RATES)
DEFAULT_USD_RATES = "USD=1,IDR=0.0000621,EUR=1.08,GBP=1.27,RUB=0.011,INR=0.012,CNY=0.14,XTR=0.013"

#: MAX_AMOUNT at most, in minor units: a balance holds a thousand of them within the database's bound
MAX_AMOUNT_CAP = MONEY_BOUND // 1000


def max_amount_check(value: str | None, info: ValidationInfo) -> str | None:
    """MAX_AMOUNT: blank is unset; else a positive amount in CURRENCY of at most MAX_AMOUNT_CAP minor units."""
    currency = info.data.get("currency")
    if value is None or not value.strip() or currency is None:  # CURRENCY itself is invalid and reported
        return None
    try:
        parse_amount(value, currency, MAX_AMOUNT_CAP)
    except ValueError:
        cap = format_minor(MAX_AMOUNT_CAP, currency)
        shape = "no decimals" if exponent(currency) == 0 else f"at most {exponent(currency)} decimals"
        raise ValueError(f"must be a positive amount in {currency} up to {cap} with {shape}, got {value!r}") from None
    return value.strip()


class SmsActivateUpstream(BaseModel):
    """One upstream speaking the sms-activate protocol (``SMSACTIVATE_UPSTREAMS`` entries)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,23}$")
    base_url: str
    api_key: SecretStr
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_url(value)


class SettingChecks(WebSettingChecks):
    """The validators of :class:`bot.settings.Settings`, each named after what it checks."""

    @field_validator("currency", check_fields=False)
    @classmethod
    def _currency_has_rate(cls, value: str, info: ValidationInfo) -> str:
        """Every upstream price is converted into CURRENCY: without a rate nothing would be on sale."""
        rates = info.data.get("usd_rates")
        if rates is not None and value not in rates:
            raise ValueError(
                f"USD_RATES has no rate for {value}, so no upstream price could be converted and nothing "
                f"would be on sale: add {value}=<value of one {value} in USD> to USD_RATES"
            )
        return value

    @field_validator("database_path", check_fields=False)
    @classmethod
    def _database_file(cls, value: Path) -> Path:
        if str(value) == ":memory:":
            raise ValueError("must be a file: balances and orders must survive a restart")
        if not value.name or value.name in (".", ".."):
            raise ValueError("must be the path of a file, e.g. data/bot.sqlite3")
        if value.is_dir():
            raise ValueError(f"{value} is a folder: give a file in it, e.g. {value / 'bot.sqlite3'}")
        return value

    @field_validator("log_level", check_fields=False)
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("smsactivate_upstreams", mode="before", check_fields=False)
    @classmethod
    def _upstreams_json(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return []
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValueError(
                f"not valid JSON ({exc.msg} at character {exc.pos}); expected a list such as "
                '[{"name": "bower", "base_url": "https://…", "api_key": "…", "currency": "USD"}]'
            ) from None

    @field_validator("smsactivate_upstreams", check_fields=False)
    @classmethod
    def _upstreams_priced(cls, value: list[SmsActivateUpstream], info: ValidationInfo) -> list[SmsActivateUpstream]:
        rates = info.data.get("usd_rates") or {}
        names = [upstream.name for upstream in value]
        for upstream in value:
            if upstream.currency not in rates:
                raise ValueError(
                    f"upstream {upstream.name!r} prices in {upstream.currency}, which has no rate in USD_RATES"
                )
            if names.count(upstream.name) > 1:
                raise ValueError(f"upstream name {upstream.name!r} is used twice")
        return value

    @field_validator("admin_ids", mode="before", check_fields=False)
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(",", " ").split())
        return value

    @field_validator("star_packages", mode="before", check_fields=False)
    @classmethod
    def _split_stars(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(",", " ").split()]
        return value

    @field_validator("star_packages", check_fields=False)
    @classmethod
    def _stars_range(cls, value: list[int]) -> list[int]:
        if not value or not all(1 <= stars <= 10000 for stars in value):
            raise ValueError("expected Star amounts from 1 to 10000, comma separated, e.g. 50,100,250")
        return sorted(set(value))

    @field_validator("usd_rates", mode="before", check_fields=False)
    @classmethod
    def _rates(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        rates: dict[str, Decimal] = {}
        for part in DEFAULT_USD_RATES.split(",") + value.replace(";", ",").split(","):
            if not part.strip():
                continue
            code, _, text = part.partition("=")
            try:
                rate = Decimal(text.strip())
            except InvalidOperation:
                rate = Decimal(0)
            if not rate.is_finite() or rate <= 0:
                raise ValueError(f"expected CODE=rate pairs such as IDR=0.0000621, got {part.strip()!r}")
            rates[code.strip().upper()] = rate
        return rates

    @field_validator("bot_token", check_fields=False)
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        left, _, right = token.partition(":")
        if not (left.isdigit() and right):
            raise ValueError("must look like 123456789:AA... (the token @BotFather gives)")
        return SecretStr(token)

    @field_validator("upstream_balance_alert", mode="before", check_fields=False)
    @classmethod
    def _alert_amount(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str) or not value.strip():
            return None
        currency = info.data.get("currency") or "USD"
        try:
            parse_amount(value.strip(), currency)
        except ValueError:
            raise ValueError(f"must be a positive amount in {currency}, got {value.strip()!r}") from None
        return value.strip()

    @field_validator("terms_file", mode="before", check_fields=False)
    @classmethod
    def _blank_file(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("price_step", "default_price", "outbound_sms_price", mode="before", check_fields=False)
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("price_step", "default_price", "outbound_sms_price", check_fields=False)
    @classmethod
    def _amount_in_currency(cls, value: str | None, info: ValidationInfo) -> str | None:
        """An amount in CURRENCY: positive, with no more decimals than CURRENCY has (0 for IDR)."""
        currency = info.data.get("currency")
        if currency is None:
            return value  # CURRENCY itself is invalid and reported
        if value is None:
            rates = info.data.get("usd_rates")
            if info.field_name == "default_price" and rates is not None and currency not in rates:
                raise ValueError(
                    f"not set and USD_RATES has no rate to derive it in {currency}: "
                    f"set DEFAULT_PRICE (in {currency}) or add {currency}=<value in USD> to USD_RATES"
                )
            return None
        value = value.strip()
        try:
            parse_amount(value, currency)
        except ValueError:
            digits = exponent(currency)
            shape = "no decimals" if digits == 0 else f"at most {digits} decimals"
            raise ValueError(f"must be a positive amount in {currency} with {shape}, got {value!r}") from None
        return value

    @field_validator(*URL_SETTINGS, check_fields=False)
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or (info.field_name == "smsactivate_base_url" and not value.strip()):
            return None  # SMSACTIVATE_BASE_URL is optional: blank is unset
        return http_url(value.strip())
