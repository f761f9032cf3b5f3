"""Settings: every variable documented in .env.example, bad values named, secrets hidden."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.__main__ import load_settings
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_in_env_example_with_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    documented = {}
    for i, line in enumerate(lines):
        if match := re.match(r"^([A-Z0-9_]+)=", line):
            documented[match.group(1)] = i
    assert set(documented) == {name.upper() for name in Settings.model_fields}
    for name, i in documented.items():
        above = lines[:i]
        comments = [line for line in above if line.startswith("#")]
        assert comments, f"{name} has no comment above it"


def test_env_example_loads_once_a_token_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = (ROOT / ".env.example").read_text().replace("BOT_TOKEN=\n", "BOT_TOKEN=1:abc\n")
    (tmp_path / ".env").write_text(env)
    monkeypatch.chdir(tmp_path)
    settings = Settings()  # type: ignore[call-arg]
    assert settings.demo_enabled and settings.upstream_keys() == {} and settings.smsactivate_all() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("poll_interval_seconds", "fast"), ("currency", "dollars"), ("default_price", "-1"), ("admin_ids", "x")],
)
def test_bad_values_name_the_variable(field: str, value: str) -> None:
    with pytest.raises((ValidationError, ValueError)) as info:
        Settings(_env_file=None, bot_token="1:abc", **{field: value})  # type: ignore[arg-type]
    assert field in str(info.value)


def test_token_is_never_printed() -> None:
    settings = Settings(_env_file=None, bot_token="123:SECRET-TOKEN")  # type: ignore[call-arg]
    assert "SECRET-TOKEN" not in repr(settings) and "SECRET-TOKEN" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("currency", "field", "value"),
    [
        ("USD", "default_price", "0.001"),  # more decimals than USD has
        ("USD", "default_price", "0"),
        ("USD", "price_step", "0.005"),
        ("IDR", "default_price", "0.5"),  # rounds to 0 rupiah: IDR has no minor unit
        ("IDR", "price_step", "0.01"),  # the old USD-looking default, refused in rupiah
        ("IDR", "price_step", "-100"),
    ],
)
def test_prices_are_amounts_in_currency(currency: str, field: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None, bot_token="1:abc", currency=currency, **{field: value})  # type: ignore[arg-type]
    assert info.value.errors()[0]["loc"] == (field,)
    assert currency in str(info.value)


@pytest.mark.parametrize(("field", "value"), [("DEFAULT_PRICE", "0.5"), ("PRICE_STEP", "0.01")])
def test_a_price_bad_for_the_currency_stops_the_start_with_one_line(
    field: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("BOT_TOKEN", "1:abc")
    monkeypatch.setenv("CURRENCY", "IDR")
    monkeypatch.setenv(field, value)
    with pytest.raises(SystemExit) as exited:
        load_settings()
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{field} is invalid") and "IDR" in lines[0], lines


@pytest.mark.parametrize(
    ("currency", "step", "default_minor", "step_minor"),
    [
        ("USD", None, 50, 1),  # 0.50 USD, a cent: as before
        ("IDR", None, 8052, 1),  # 0.50 / 0.0000621 = 8051.5 rupiah, rounded up
        ("IDR", "100", 8100, 100),  # ... rounded up to the step
        ("XTR", None, 39, 1),  # 0.50 / 0.013 = 38.5 Stars
        ("EUR", "0.05", 50, 5),  # 0.50 / 1.08 = 0.463 -> 0.47 -> the 0.05 step
    ],
)
def test_unset_prices_are_sensible_in_any_currency(
    currency: str, step: str | None, default_minor: int, step_minor: int
) -> None:
    settings = Settings(_env_file=None, bot_token="1:abc", currency=currency, price_step=step)  # type: ignore[call-arg]
    assert (settings.default_price_minor, settings.price_step_minor) == (default_minor, step_minor)


def test_set_prices_are_read_in_currency() -> None:
    settings = Settings(_env_file=None, bot_token="1:abc", currency="IDR", default_price="9000", price_step="500")  # type: ignore[call-arg]
    assert (settings.default_price_minor, settings.price_step_minor) == (9000, 500)
    usd = Settings(_env_file=None, bot_token="1:abc", default_price="0.75", price_step="0.05")  # type: ignore[call-arg]
    assert (usd.default_price_minor, usd.price_step_minor) == (75, 5)


def test_blank_prices_in_env_file_mean_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("BOT_TOKEN=1:abc\nCURRENCY=IDR\nDEFAULT_PRICE=\nPRICE_STEP=\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings()  # type: ignore[call-arg]
    assert (settings.default_price_minor, settings.price_step_minor) == (8052, 1)


def test_a_currency_needs_a_rate_even_with_a_default_price() -> None:
    """Without a rate no upstream price converts into CURRENCY: every country would say "Nothing is on sale"."""
    for extra in ({}, {"default_price": "80"}):
        with pytest.raises(ValidationError) as info:
            Settings(_env_file=None, bot_token="1:abc", currency="JPY", **extra)  # type: ignore[arg-type]
        assert info.value.errors()[0]["loc"] == ("currency",) and "USD_RATES" in str(info.value)
    with_rate = Settings(_env_file=None, bot_token="1:abc", currency="JPY", usd_rates="JPY=0.0067")  # type: ignore[call-arg]
    assert with_rate.default_price_minor == 75  # 0.50 / 0.0067 = 74.6 yen
    priced = Settings(_env_file=None, bot_token="1:abc", currency="JPY", usd_rates="JPY=0.0067", default_price="80")  # type: ignore[call-arg]
    assert priced.default_price_minor == 80


UPSTREAM = {"name": "bower", "base_url": "https://bower.example/stubs/handler_api.php", "api_key": "key-123456"}


def test_smsactivate_upstreams_is_json_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", "1:abc")
    monkeypatch.setenv("SMSACTIVATE_UPSTREAMS", json.dumps([{**UPSTREAM, "currency": "RUB"}]))
    (upstream,) = Settings().smsactivate_all()  # type: ignore[call-arg]
    assert (upstream.name, upstream.currency, upstream.api_key.get_secret_value()) == ("bower", "RUB", "key-123456")
    monkeypatch.setenv("SMSACTIVATE_UPSTREAMS", "")
    assert Settings().smsactivate_all() == []  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("not json", "not valid JSON"),
        ('{"name": "bower"}', "list"),
        (json.dumps([{**UPSTREAM, "currency": "XYZ"}]), "XYZ"),  # no rate: its prices could not be converted
        (json.dumps([UPSTREAM, UPSTREAM]), "twice"),
        (json.dumps([{**UPSTREAM, "base_url": "bower.example"}]), "http"),
    ],
)
def test_bad_smsactivate_upstreams_are_one_line_each(
    value: str, words: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", "1:abc")
    monkeypatch.setenv("SMSACTIVATE_UPSTREAMS", value)
    with pytest.raises(SystemExit) as exited:
        load_settings()
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("SMSACTIVATE_UPSTREAMS is invalid") and words in lines[0], lines
    assert "key-123456" not in lines[0]


def test_every_problem_is_its_own_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", "1:abc")
    monkeypatch.setenv("POLL_INTERVAL_SECONDS", "fast")
    monkeypatch.setenv("LOG_LEVEL", "loud")
    with pytest.raises(SystemExit):
        load_settings()
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["POLL_INTERVAL_SECONDS", "LOG_LEVEL"], lines


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("telegram_api_url", "http://"),
        ("telegram_api_url", "127.0.0.1:8081"),  # no scheme
        ("smsx_base_url", "https://:80"),
        ("smsactivate_base_url", "ftp://x"),
        ("log_level", "loud"),
        ("database_path", ":memory:"),
        ("database_path", "."),
    ],
)
def test_more_bad_values_name_the_variable(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None, bot_token="1:abc", **{field: value})  # type: ignore[arg-type]
    assert info.value.errors()[0]["loc"] == (field,)


def test_a_folder_is_not_a_database_path(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None, bot_token="1:abc", database_path=tmp_path)  # type: ignore[call-arg]
    assert "folder" in str(info.value) and str(tmp_path / "bot.sqlite3") in str(info.value)


def test_blank_and_normalized_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("BOT_TOKEN=1:abc\nSMSACTIVATE_BASE_URL=\nLOG_LEVEL=debug\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings()  # type: ignore[call-arg]
    assert (settings.smsactivate_base_url, settings.log_level) == (None, "DEBUG")


@pytest.mark.parametrize(
    ("field", "value"),
    [("web_port", "0"), ("web_port", "65536"), ("web_host", ""), ("telegram_retry_max_seconds", "0")],
)
def test_health_server_and_retry_settings_are_checked(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None, bot_token="1:abc", **{field: value})  # type: ignore[arg-type]
    assert info.value.errors()[0]["loc"] == (field,)


def test_the_health_server_is_off_unless_web_port_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("BOT_TOKEN=1:abc\nWEB_PORT=\n")  # blank, as .env.example has it
    monkeypatch.chdir(tmp_path)
    settings = Settings()  # type: ignore[call-arg]
    assert (settings.web_host, settings.web_port, settings.telegram_retry_max_seconds) == ("127.0.0.1", None, 60)
    assert Settings(_env_file=None, bot_token="1:abc", web_port="8080").web_port == 8080  # type: ignore[call-arg]


def test_the_upstream_balance_alert_is_in_currency_and_defaults_to_five_dollars() -> None:
    base = {"_env_file": None, "bot_token": "123456:TEST-TOKEN"}
    assert Settings(**base).upstream_balance_alert_minor == 500  # type: ignore[arg-type]
    idr = Settings(**base, currency="IDR")  # type: ignore[arg-type]
    assert idr.upstream_balance_alert_minor == 80516  # 5 USD, not 5 rupiah
    assert Settings(**base, currency="IDR", upstream_balance_alert="100000").upstream_balance_alert_minor == 100000  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="positive amount in IDR"):
        Settings(**base, currency="IDR", upstream_balance_alert="0.5")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    ["http://bot.example.com/telegram", "https://bot.example.com:8080/telegram", "http://bot.example.com:443/hook"],
)
def test_with_telegrams_cloud_a_webhook_it_would_refuse_stops_the_start_in_one_line(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", "1:abc")
    monkeypatch.setenv("WEBHOOK_URL", url)
    monkeypatch.setenv("WEBHOOK_SECRET", "a-webhook-secret-0123")
    with pytest.raises(SystemExit) as exited:
        load_settings()
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"WEBHOOK_URL is invalid: {url} cannot take updates"), lines
    assert "https:// on port 443, 80, 88 or 8443" in lines[0] and "--local" in lines[0]
    assert "a-webhook-secret-0123" not in lines[0]


@pytest.mark.parametrize(
    "url", ["https://bot.example.com/telegram", *(f"https://bot.example.com:{p}/telegram" for p in (443, 80, 88, 8443))]
)
def test_telegrams_cloud_takes_https_on_its_four_ports(url: str) -> None:
    settings = Settings(_env_file=None, bot_token="1:abc", webhook_url=url, webhook_secret="s" * 16)  # type: ignore[call-arg]
    assert settings.webhook_url == url and settings.listen_port == 8080  # the proxy in front takes the public port


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "https://bot.example.com:9443/hook", "http://bot/x"])
def test_a_self_hosted_bot_api_server_takes_any_http_webhook(url: str) -> None:
    """telegram-bot-api --local posts to http and any port; whether it runs so, the doctor says."""
    settings = Settings(
        _env_file=None,
        bot_token="1:abc",
        telegram_api_url="http://127.0.0.1:8081",
        webhook_url=url,
        webhook_secret="s" * 16,
    )  # type: ignore[call-arg]
    assert settings.webhook_url == url


@pytest.mark.parametrize(
    ("secret", "words"),
    [
        ("short-secret", "16-256 characters of A-Z a-z 0-9 _ -, not 12"),
        ("x" * 15, "not 15"),
        ("x" * 257, "not 257"),
        ("sixteen-chars-but-one+", "16-256 characters of A-Z a-z 0-9 _ - only"),
    ],
)
def test_a_webhook_secret_is_16_to_256_allowed_characters(secret: str, words: str) -> None:
    """Shorter ones could be guessed, and the log masks no secret under 6 characters."""
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None, bot_token="1:abc", webhook_url="https://bot.example.com/t", webhook_secret=secret)  # type: ignore[call-arg]
    (error,) = info.value.errors()
    assert error["loc"] == ("webhook_secret",) and words in error["msg"], error["msg"]
    assert secret not in error["msg"]
    sixteen = Settings(
        _env_file=None, bot_token="1:abc", webhook_url="https://b.example.com/t", webhook_secret="x" * 16
    )  # type: ignore[call-arg]
    assert sixteen.webhook_secret is not None and sixteen.webhook_secret.get_secret_value() == "x" * 16
