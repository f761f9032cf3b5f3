"""Configuration from the environment and ``.env`` (pydantic-settings)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from providers.money import to_minor

#: upstreams configured by ``<NAME>_API_KEY`` / ``<NAME>_BASE_URL``, with their documented base URLs
UPSTREAM_DEFAULT_URLS: dict[str, str] = {
    "smscartesim": "https://smscartesim.com/api/v1",
    "simsmsbox": "https://api.simsmsbox.com",
    "ismscode": "https://ismscode.com/api/v3",
    "smscode": "https://api.smscode.gg/v1",
    "smsx": "https://mail.smsx.site",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    database_path: Path = Path("data/bot.sqlite3")
    telegram_api_url: str = "https://api.telegram.org"
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    markup_percent: Decimal = Field(Decimal(30), ge=0, le=1000)
    poll_interval_seconds: float = Field(5.0, ge=0.2, le=300)
    order_timeout_minutes: int = Field(20, ge=1, le=60 * 24 * 31)
    demo_provider: Literal["auto", "on", "off"] = "auto"
    demo_sms_delay_seconds: float = Field(8.0, ge=0, le=3600)
    default_price: str = "0.50"
    poll_concurrency: int = Field(50, ge=1, le=1000)
    log_level: str = "INFO"

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

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(int(part) for part in value.replace(",", " ").split())
        return value

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        left, _, right = token.partition(":")
        if not (left.isdigit() and right):
            raise ValueError("must look like 123456789:AA... (the token @BotFather gives)")
        return SecretStr(token)

    @field_validator("default_price")
    @classmethod
    def _price_is_amount(cls, value: str) -> str:
        if to_minor(value, "USD") <= 0:
            raise ValueError("must be a positive amount such as 0.50")
        return value

    @field_validator("telegram_api_url", *(f"{n}_base_url" for n in UPSTREAM_DEFAULT_URLS))
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def default_price_minor(self) -> int:
        return to_minor(self.default_price, self.currency)

    def upstream_keys(self) -> dict[str, tuple[str, str]]:
        """``{name: (api_key, base_url)}`` for every upstream with a key set."""
        found: dict[str, tuple[str, str]] = {}
        for name in UPSTREAM_DEFAULT_URLS:
            key: SecretStr | None = getattr(self, f"{name}_api_key")
            if key is not None and key.get_secret_value().strip():
                found[name] = (key.get_secret_value().strip(), getattr(self, f"{name}_base_url"))
        return found

    @property
    def demo_enabled(self) -> bool:
        if self.demo_provider == "auto":
            return not self.upstream_keys()
        return self.demo_provider == "on"
