"""Settings: every variable documented in .env.example, bad values named, secrets hidden."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

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
