"""Checks of the settings that take the bot past one process: DATABASE_URL (SQLite or PostgreSQL) and
REDIS_URL (aiogram's FSM storage and event isolation). A base of :class:`bot.web_settings.WebSettingChecks`.

Both URLs may carry a password, so both are secrets: never logged, never shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings

#: the schemes DATABASE_URL takes for PostgreSQL (asyncpg's, and SQLAlchemy's spelling of it)
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")


def database_kind(url: str) -> str:
    """ "sqlite" or "postgresql" for a DATABASE_URL; ValueError for anything else."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        return "sqlite"
    if scheme in POSTGRES_SCHEMES:
        return "postgresql"
    raise ValueError("must be sqlite:///path/to/file.sqlite3 or postgresql://user:password@host:port/database")


class ScaleSettingChecks(BaseSettings):
    """The validators of DATABASE_URL and REDIS_URL."""

    @field_validator("database_url", "redis_url", mode="before", check_fields=False)
    @classmethod
    def _blank_url(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url", check_fields=False)
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value().strip()
        if database_kind(url) == "postgresql" and not urlsplit(url).hostname and "host=" not in url:
            raise ValueError("a PostgreSQL URL needs a host: postgresql://user:password@host:5432/database")
        if database_kind(url) == "sqlite" and not (url.lower().startswith("sqlite:///") and url[len("sqlite:///") :]):
            raise ValueError("an SQLite URL names a file: sqlite:///data/bot.sqlite3 (four slashes: absolute)")
        return SecretStr(url)

    @field_validator("redis_url", check_fields=False)
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and urlsplit(value.get_secret_value()).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be redis://host:6379/0 (rediss:// for TLS)")
        return value

    @model_validator(mode="before")
    @classmethod
    def _sqlite_url_is_the_path(cls, data: Any) -> Any:
        """DATABASE_URL=sqlite:///path is DATABASE_PATH=path: one file, whichever of the two names it."""
        if not isinstance(data, dict):
            return data
        key = next((k for k in data if k.lower() == "database_url"), None)
        url = data.get(key) if key else None
        raw = url.get_secret_value() if isinstance(url, SecretStr) else url
        if isinstance(raw, str) and raw.strip().lower().startswith("sqlite:///"):
            data = dict(data)
            data["database_path"] = Path(raw.strip()[len("sqlite:///") :])
        return data
