"""Configuration from the environment and ``.env`` (pydantic-settings); the checks are :mod:`bot.setting_checks`."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr
from pydantic_settings import NoDecode, SettingsConfigDict

from bot.scale_settings import database_kind
from bot.setting_checks import (
    DEFAULT_USD_RATES,
    MAX_AMOUNT_CAP,
    UPSTREAM_DEFAULT_URLS,
    SettingChecks,
    SmsActivateUpstream,
    max_amount_check,
)
from providers.money import exponent, parse_amount, to_minor

#: price of an offer with no published price when DEFAULT_PRICE is unset, in US dollars (converted to CURRENCY)
DEFAULT_PRICE_USD = Decimal("0.50")
#: what an upstream balance alert defaults to, before conversion to CURRENCY
BALANCE_ALERT_USD = Decimal(5)

#: MAX_AMOUNT when unset, in US dollars: converted to CURRENCY and rounded down to one significant digit
MAX_AMOUNT_USD = Decimal(1_000_000)

#: where the server listens in webhook mode when WEB_PORT is unset
DEFAULT_WEBHOOK_PORT = 8080


class Settings(SettingChecks):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    database_path: Path = Path("data/bot.sqlite3")
    # unset or sqlite:///path: SQLite (the path is DATABASE_PATH); postgresql://user:password@host:5432/db:
    # PostgreSQL, which several replicas may share (see README "Scaling out")
    database_url: SecretStr | None = None
    database_pool_size: int = Field(10, ge=1, le=200)  # PostgreSQL connections per process
    # redis://host:6379/0: FSM data and event isolation in Redis, so a user's taps may land on any replica
    redis_url: SecretStr | None = None
    # an order being polled is leased to one replica this long; a dead replica's orders move on after it
    lease_seconds: float = Field(30.0, ge=2, le=600)
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
    upstream_buy_share_percent: int = Field(25, ge=1, le=90)  # of each upstream's rate, kept for buys
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
    web_port: int | None = Field(None, ge=1, le=65535)  # ... on this port; unset: no server (webhook mode: 8080)
    # webhook mode: Telegram posts updates to this public URL (its path is served); unset: long polling.
    # Telegram's cloud takes only https on port 443, 80, 88 or 8443; a self-hosted --local server any
    webhook_url: str | None = None
    # required with WEBHOOK_URL, 16-256 characters: Telegram sends it with every update, every request is checked
    webhook_secret: Annotated[SecretStr | None, Field(validate_default=True)] = None
    log_format: Literal["text", "json"] = "text"
    backup_dir: Path = Path("data/backups")
    backup_interval_hours: float = Field(6.0, ge=0, le=24 * 31)  # 0: no scheduled backups
    backup_keep: int = Field(28, ge=1, le=10_000)
    shutdown_grace_seconds: float = Field(20.0, ge=0, le=600)  # SIGTERM: in-flight purchases and SMS may finish
    error_alert_threshold: int = Field(20, ge=1, le=100_000)  # handler errors in 5 minutes that alert the admins
    user_updates_per_second: float = Field(3.0, gt=0, le=1000)  # per user; past it (and the burst) updates are dropped
    user_updates_burst: int = Field(10, ge=1, le=10000)
    refresh_min_seconds: float = Field(5.0, ge=0, le=3600)  # Refresh asks the upstream at most this often per order
    referral_percent: int = Field(5, ge=0, le=50)  # of an invited user's settled purchase, to the inviter; 0: off
    terms_text: str = ""  # what /terms shows; empty: TERMS_FILE, else the built-in terms (refund rules)
    terms_file: Path | None = None
    # the price of one SMS sent from a rented number (in CURRENCY); unset: sending is off
    outbound_sms_price: Annotated[str | None, Field(validate_default=True)] = None
    # the largest amount an operator may type (credit, debit, promo code, price override), in CURRENCY;
    # unset: MAX_AMOUNT_USD in CURRENCY (see max_amount_minor)
    max_amount: Annotated[str | None, AfterValidator(max_amount_check), Field(validate_default=True)] = None

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
    smsactivate_upstreams: Annotated[list[SmsActivateUpstream], NoDecode] = Field(default_factory=list)

    @property
    def postgres_url(self) -> str | None:
        """DATABASE_URL when it names PostgreSQL; None for SQLite (DATABASE_PATH)."""
        url = self.database_url.get_secret_value() if self.database_url else None
        return url if url and database_kind(url) == "postgresql" else None

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
    def outbound_sms_price_minor(self) -> int | None:
        """OUTBOUND_SMS_PRICE in minor units of CURRENCY; None (sending from rented numbers is off) when unset."""
        if self.outbound_sms_price is None:
            return None
        return to_minor(self.outbound_sms_price, self.currency)

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
    def listen_port(self) -> int | None:
        """Where the bot's HTTP server listens: WEB_PORT; in webhook mode 8080 when WEB_PORT is unset."""
        if self.web_port is None and self.webhook_url:
            return DEFAULT_WEBHOOK_PORT
        return self.web_port

    @property
    def demo_enabled(self) -> bool:
        if self.demo_provider == "auto":
            return not self.upstream_keys() and not self.smsactivate_all()
        return self.demo_provider == "on"
