"""Checks of the HTTP server's and the webhook's settings: WEB_PORT, WEBHOOK_URL (one Telegram can post
to) and WEBHOOK_SECRET (Telegram's secret_token alphabet, long enough not to be guessed and to be masked
in the log). A base of :class:`bot.setting_checks.SettingChecks`."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationInfo, field_validator

from bot.scale_settings import ScaleSettingChecks

#: a webhook's secret_token: Telegram takes 1-256 of these characters; under 16 one could be guessed, and
#: the log masks no secret shorter than bot.runtime.logs.MIN_SECRET_LENGTH
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,256}")
SECRET_RULE = "16-256 characters of A-Z a-z 0-9 _ -"
SECRET_HINT = "(make one with `openssl rand -hex 32`)"

#: the host of Telegram's cloud Bot API; any other TELEGRAM_API_URL is a self-hosted Bot API server
CLOUD_API_HOST = "api.telegram.org"
#: the only ports Telegram's cloud posts webhook updates to, always over https (a self-hosted server
#: started with ``--local`` takes http and any port)
CLOUD_WEBHOOK_PORTS = (443, 80, 88, 8443)


def is_cloud_api(api_url: str) -> bool:
    """Does TELEGRAM_API_URL name Telegram's cloud (rather than a self-hosted Bot API server)?"""
    return (urlsplit(api_url).hostname or "").lower() == CLOUD_API_HOST


def webhook_port(url: str) -> int:
    """The port Telegram posts a webhook URL's updates to (its scheme's default when none is given)."""
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def cloud_takes_webhook(url: str) -> bool:
    """Would Telegram's cloud accept ``url`` in setWebhook: https, on one of :data:`CLOUD_WEBHOOK_PORTS`?"""
    return urlsplit(url).scheme == "https" and webhook_port(url) in CLOUD_WEBHOOK_PORTS


def http_url(value: str) -> str:
    """An http(s) URL with a host, without its trailing slash."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValueError(f"not a URL: {value!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value.rstrip("/")


class WebSettingChecks(ScaleSettingChecks):
    """The validators of the server's and the webhook's settings."""

    @field_validator("web_port", mode="before", check_fields=False)
    @classmethod
    def _blank_port(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_url", mode="before", check_fields=False)
    @classmethod
    def _webhook_url(cls, value: object) -> object:
        if isinstance(value, str):
            return http_url(value.strip()) if value.strip() else None
        return value

    @field_validator("webhook_url", check_fields=False)
    @classmethod
    def _webhook_on_cloud(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Telegram's cloud refuses any other webhook in setWebhook: say so before the bot starts."""
        api = info.data.get("telegram_api_url")
        if value is None or api is None or not is_cloud_api(api) or cloud_takes_webhook(value):
            return value
        raise ValueError(
            f"{value} cannot take updates from Telegram's cloud ({CLOUD_API_HOST}), which posts them only to "
            "https:// on port 443, 80, 88 or 8443, e.g. https://bot.example.com/telegram (http or another port "
            "needs a self-hosted Bot API server run with --local, set as TELEGRAM_API_URL)"
        )

    @field_validator("webhook_secret", check_fields=False)
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        secret = value.get_secret_value().strip() if value is not None else ""
        if not secret:
            if info.data.get("webhook_url"):
                raise ValueError(f"must be set with WEBHOOK_URL: {SECRET_RULE} {SECRET_HINT}")
            return None
        if not SECRET_TOKEN.fullmatch(secret):
            wrong = " only" if 16 <= len(secret) <= 256 else f", not {len(secret)}"
            raise ValueError(f"must be {SECRET_RULE}{wrong} {SECRET_HINT}")
        return SecretStr(secret)
