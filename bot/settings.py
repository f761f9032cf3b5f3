"""Configuration from the environment and ``.env`` (pydantic-settings)."""

from __future__ import annotations

import json
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from providers.money import MONEY_BOUND, exponent, format_minor, parse_amount, to_minor

#: upstreams configured by ``<NAME>_API_KEY`` / ``<NAME>_BASE_URL``, with their documented base URLs
UPSTREAM_DEFAULT_URLS: dict[str, str] = {
    "smscartesim": "https://smscartesim.com/api/v1",
    "simsmsbox": "https://api.simsmsbox.com",
    "ismscode": "https://ismscode.com/api/v3",
    "smscode": "https://api.smscode.gg/v1",
    "smsx": "https://mail.smsx.site",
}


#: value of one unit of each currency in US dollars (override with USD_RATES)
DEFAULT_USD_RATES = "USD=1,IDR=0.0000621,EUR=1.08,GBP=1.27,RUB=0.011,INR=0.012,CNY=0.14,XTR=0.013"

#: price of an offer with no published price when DEFAULT_PRICE is unset, in US dollars (converted to CURRENCY)
DEFAULT_PRICE_USD = Decimal("0.50")
#: what an upstream balance alert defaults to, before conversion to CURRENCY
BALANCE_ALERT_USD = Decimal(5)

#: MAX_AMOUNT when unset, in US dollars: converted to CURRENCY and rounded down to one significant digit
MAX_AMOUNT_USD = Decimal(1_000_000)
#: MAX_AMOUNT at most, in minor units: a balance holds a thousand of them within the database's bound
MAX_AMOUNT_CAP = MONEY_BOUND // 1000


def _max_amount(value: str | None, info: ValidationInfo) -> str | None:
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
        return _http_url(value)


def _http_url(value: str) -> str:
    """An http(s) URL with a host, without its trailing slash."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValueError(f"not a URL: {value!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value.rstrip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    database_path: Path = Path("data/bot.sqlite3")
    telegram_api_url: str = "https://api.telegram.org"
    # declared before CURRENCY, which must have a rate in it
    usd_rates: Annotated[dict[str, Decimal], NoDecode] = Field(default=DEFAULT_USD_RATES, validate_default=True)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    markup_percent: Decimal = Field(Decimal(30), ge=0, le=1000)
    poll_interval_seconds: float = Field(5.0, ge=0.2, le=300)
    order_timeout_minutes: int = Field(20, ge=1, le=60 * 24 * 31)
    pending_grace_seconds: float = Field(120.0, ge=1, le=3600)
    demo_provider: Literal["auto", "on", "off"] = "auto"
    demo_sms_delay_seconds: float = Field(8.0, ge=0, le=3600)
    poll_concurrency: int = Field(50, ge=1, le=1000)
    # amounts in CURRENCY, checked against CURRENCY and USD_RATES (so declared after them); unset, the
    # step is one minor unit and the default price DEFAULT_PRICE_USD converted, rounded up to the step
    price_step: Annotated[str | None, Field(validate_default=True)] = None
    default_price: Annotated[str | None, Field(validate_default=True)] = None
    catalog_ttl_seconds: float = Field(60.0, ge=1, le=3600)
    catalog_stale_seconds: float = Field(900.0, ge=0, le=86400)
    breaker_failures: int = Field(3, ge=1, le=100)
    breaker_cooldown_seconds: float = Field(60.0, ge=1, le=3600)
    upstream_rate_per_second: float = Field(20.0, gt=0, le=1000)
    broadcast_rate: float = Field(25.0, gt=0, le=30)  # broadcast messages per second (Telegram: ~30)
    # admins are told when an upstream's balance falls under this, in CURRENCY; unset: 5 USD converted
    upstream_balance_alert: Annotated[str | None, Field(validate_default=True)] = None
    log_level: str = "INFO"
    star_packages: Annotated[list[int], NoDecode] = Field(default="50,100,250,500,1000", validate_default=True)
    star_rate: int = Field(1, ge=1, le=1_000_000)
    refundable_preference_percent: int = Field(10, ge=0, le=100)  # a refundable offer wins within this of the cheapest
    write_off_limit_per_day: int = Field(3, ge=0, le=1000)  # numbers a user may leave the operator to pay for, per 24 h
    max_active_orders_per_user: int = Field(10, ge=1, le=1000)
    purchases_per_minute: int = Field(10, ge=1, le=1000)
    telegram_retry_max_seconds: float = Field(60.0, ge=1, le=3600)  # start-up retries back off 1, 2, 4 ... up to this
    web_host: str = Field("127.0.0.1", min_length=1)  # the health server (/healthz, /readyz) listens here ...
    web_port: int | None = Field(None, ge=1, le=65535)  # ... on this port; unset: no server
    user_updates_per_second: float = Field(3.0, gt=0, le=1000)  # per user; past it (and the burst) updates are dropped
    user_updates_burst: int = Field(10, ge=1, le=10000)
    refresh_min_seconds: float = Field(5.0, ge=0, le=3600)  # Refresh asks the upstream at most this often per order
    # the largest amount an operator may type (credit, debit, promo code, price override), in CURRENCY;
    # unset: MAX_AMOUNT_USD in CURRENCY (see max_amount_minor)
    max_amount: Annotated[str | None, AfterValidator(_max_amount), Field(validate_default=True)] = None

    smscartesim_api_key: SecretStr | None = None
    smscartesim_base_url: str = UPSTREAM_DEFAULT_URLS["smscartesim"]
    simsmsbox_api_key: SecretStr | None = None
    simsmsbox_base_url: str = UPSTREAM_DEFAULT_URLS["simsmsbox"]
    ismscode_api_key: SecretStr | None = None
    ismscode_base_url: str = UPSTREAM_DEFAULT_URLS["ismscode"]
    smscode_api_key: SecretStr | None = None
    smscode_base_url: str = UPSTREAM_DEFAULT_URLS["smscode"]
    smsx_api_key: SecretStr | None = None
    smsx_base_url: str = UPSTREAM_DEFAULT_URLS["smsx"]
    smsactivate_api_key: SecretStr | None = None
    smsactivate_base_url: str | None = None
    smsactivate_upstreams: Annotated[list[SmsActivateUpstream], NoDecode] = []

    @field_validator("currency")
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

    @field_validator("database_path")
    @classmethod
    def _database_file(cls, value: Path) -> Path:
        if str(value) == ":memory:":
            raise ValueError("must be a file: balances and orders must survive a restart")
        if not value.name or value.name in (".", ".."):
            raise ValueError("must be the path of a file, e.g. data/bot.sqlite3")
        if value.is_dir():
            raise ValueError(f"{value} is a folder: give a file in it, e.g. {value / 'bot.sqlite3'}")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("web_port", mode="before")
    @classmethod
    def _blank_port(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("smsactivate_upstreams", mode="before")
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

    @field_validator("smsactivate_upstreams")
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

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(",", " ").split())
        return value

    @field_validator("star_packages", mode="before")
    @classmethod
    def _split_stars(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(",", " ").split()]
        return value

    @field_validator("star_packages")
    @classmethod
    def _stars_range(cls, value: list[int]) -> list[int]:
        if not value or not all(1 <= stars <= 10000 for stars in value):
            raise ValueError("expected Star amounts from 1 to 10000, comma separated, e.g. 50,100,250")
        return sorted(set(value))

    @field_validator("usd_rates", mode="before")
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

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        left, _, right = token.partition(":")
        if not (left.isdigit() and right):
            raise ValueError("must look like 123456789:AA... (the token @BotFather gives)")
        return SecretStr(token)

    @field_validator("upstream_balance_alert", mode="before")
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

    @field_validator("price_step", "default_price", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("price_step", "default_price")
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

    @field_validator("telegram_api_url", "smsactivate_base_url", *(f"{n}_base_url" for n in UPSTREAM_DEFAULT_URLS))
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or (info.field_name == "smsactivate_base_url" and not value.strip()):
            return None  # SMSACTIVATE_BASE_URL is optional: blank is unset
        return _http_url(value.strip())

    @property
    def price_step_minor(self) -> int:
        """PRICE_STEP in minor units of CURRENCY; unset, one minor unit."""
        if self.price_step is None:
            return 1
        return max(to_minor(self.price_step, self.currency), 1)

    @property
    def default_price_minor(self) -> int:
        """DEFAULT_PRICE in minor units of CURRENCY; unset, DEFAULT_PRICE_USD converted with USD_RATES
        and rounded up to the step."""
        if self.default_price is not None:
            return to_minor(self.default_price, self.currency)
        step = self.price_step_minor
        rate = self.usd_rates.get(self.currency)
        if rate is None:  # refused at start; only a copy made without validation gets here
            raise ValueError(f"DEFAULT_PRICE is not set and USD_RATES has no rate for {self.currency}")
        major = DEFAULT_PRICE_USD / rate
        minor = int(major.scaleb(exponent(self.currency)).to_integral_value(rounding=ROUND_CEILING))
        return max(-(-minor // step) * step, step)

    @property
    def upstream_balance_alert_minor(self) -> int:
        """UPSTREAM_BALANCE_ALERT in minor units of CURRENCY; unset, 5 USD converted with USD_RATES."""
        if self.upstream_balance_alert is not None:
            return to_minor(self.upstream_balance_alert, self.currency)
        major = BALANCE_ALERT_USD / self.usd_rates.get(self.currency, Decimal(1))
        return int(major.scaleb(exponent(self.currency)).to_integral_value(rounding=ROUND_CEILING))

    @property
    def max_amount_minor(self) -> int:
        """MAX_AMOUNT in minor units of CURRENCY. Unset: MAX_AMOUNT_USD converted with USD_RATES (1,000,000
        CURRENCY without a rate), rounded down to one significant digit; never above MAX_AMOUNT_CAP."""
        if self.max_amount is not None:
            return parse_amount(self.max_amount, self.currency, MAX_AMOUNT_CAP)
        major = int(MAX_AMOUNT_USD / self.usd_rates.get(self.currency, Decimal(1)))
        magnitude = 10 ** (len(str(major)) - 1)
        return min(max(major // magnitude * magnitude, 1) * 10 ** exponent(self.currency), MAX_AMOUNT_CAP)

    def upstream_keys(self) -> dict[str, tuple[str, str]]:
        """``{name: (api_key, base_url)}`` for every upstream with a key set."""
        found: dict[str, tuple[str, str]] = {}
        for name in UPSTREAM_DEFAULT_URLS:
            key: SecretStr | None = getattr(self, f"{name}_api_key")
            if key is not None and key.get_secret_value().strip():
                found[name] = (key.get_secret_value().strip(), getattr(self, f"{name}_base_url"))
        return found

    def smsactivate_all(self) -> list[SmsActivateUpstream]:
        """Every sms-activate protocol upstream: the single pair and the JSON list."""
        found = list(self.smsactivate_upstreams)
        key = self.smsactivate_api_key.get_secret_value().strip() if self.smsactivate_api_key else ""
        if key and self.smsactivate_base_url:
            found.insert(0, SmsActivateUpstream(name="smsactivate", base_url=self.smsactivate_base_url, api_key=key))
        return found

    @property
    def demo_enabled(self) -> bool:
        if self.demo_provider == "auto":
            return not self.upstream_keys() and not self.smsactivate_all()
        return self.demo_provider == "on"
