"""``python -m bot check`` as an operator runs it: a subprocess against the fake Bot API and three fake
upstreams served on the loopback (smscartesim, smscode, and an sms-activate protocol one from
SMSACTIVATE_UPSTREAMS). All good: exit 0 and an ok line per check; one key wrong: exit 1 and that
upstream's lines say the key was refused while the others stay ok; Telegram unreachable or the token
refused: a clear FAIL line. No secret is ever printed, and the check creates and changes nothing."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from bot.runtime.doctor import CHECK_TIMEOUT, failure, webhook_line
from bot.settings import Settings
from providers import errors
from storage.db import Database, hold_database_lock
from storage.migrations import MIGRATIONS
from tests.botproc import BotProcess
from tests.conftest import free_port
from tests.fakes.serve import serve
from tests.fakes.smsactivate import FakeSmsActivate
from tests.fakes.smscartesim import FakeSmsCartesim
from tests.fakes.smscode import FakeSMSCode
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:TEST-TOKEN"
KEYS = {"smscartesim": "sk-cartesim-0123456789", "smscode": "sk-smscode-0123456789", "bower": "sk-bower-0123456789"}
WRONG_KEY = "sk-wrong-key-987654321"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def upstreams(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """The environment of a bot with the three fake upstreams and the fake Bot API; nothing else set."""
    async with AsyncExitStack() as stack:
        cartesim = await stack.enter_async_context(serve(FakeSmsCartesim(KEYS["smscartesim"]), "/api/v1"))
        smscode = await stack.enter_async_context(serve(FakeSMSCode(KEYS["smscode"]), "/v1"))
        bower = await stack.enter_async_context(serve(FakeSmsActivate(KEYS["bower"])))
        yield {
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": fake.url,
            "DATABASE_PATH": str(tmp_path / "data" / "bot.sqlite3"),
            "SMSCARTESIM_API_KEY": KEYS["smscartesim"],
            "SMSCARTESIM_BASE_URL": cartesim,
            "SMSCODE_API_KEY": KEYS["smscode"],
            "SMSCODE_BASE_URL": smscode,
            "SMSACTIVATE_UPSTREAMS": json.dumps([{"name": "bower", "base_url": bower, "api_key": KEYS["bower"]}]),
        }


async def check(tmp_path: Path, env: dict[str, str], *secrets: str) -> tuple[int, list[str]]:
    """``python -m bot check`` with only ``env`` (inherited keys and tokens stripped, as for the bot); its
    exit status and the lines it printed (they and the log, on stderr, are checked for tracebacks and the
    secrets: the tokens, the keys and ``secrets``)."""
    workdir = tmp_path / "run"
    workdir.mkdir(exist_ok=True)
    proc_env = BotProcess(workdir, **env).env
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        cwd=workdir,
        env=proc_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)  # the fakes answer on this event loop
    text, log = out.decode(), err.decode()
    for secret in (TOKEN, "TEST-TOKEN", WRONG_KEY, *KEYS.values(), *secrets):
        assert secret not in text and secret not in log, text + log
    assert "Traceback" not in log, log
    assert proc.returncode is not None
    return proc.returncode, text.splitlines()


def line_of(lines: list[str], name: str) -> str:
    found = [line for line in lines if line[6:].startswith(f"{name}: ")]
    assert len(found) == 1, (name, lines)
    return found[0]


async def test_all_good_is_one_ok_line_per_check_and_exit_0(upstreams: dict[str, str], tmp_path: Path) -> None:
    status, lines = await check(tmp_path, upstreams)
    assert status == 0, lines
    assert all(line.startswith("ok    ") for line in lines), lines
    assert "3 upstreams (smscartesim, smscode, bower)" in line_of(lines, "settings")
    assert "long polling" in line_of(lines, "settings")
    assert "does not exist yet; the bot creates it at start" in line_of(lines, "database")
    assert line_of(lines, "telegram") == "ok    telegram: @test_sms_bot (id 123456)"
    assert line_of(lines, "smscartesim balance") == "ok    smscartesim balance: 50.00 USD"
    assert line_of(lines, "smscartesim catalog") == "ok    smscartesim catalog: 4 offers, 3 services in 2 countries"
    assert line_of(lines, "smscode balance").startswith("ok    smscode balance: 150")
    assert line_of(lines, "smscode catalog").startswith("ok    smscode catalog: 3 offers")
    assert line_of(lines, "bower balance").startswith("ok    bower balance: ")
    assert line_of(lines, "bower catalog").startswith("ok    bower catalog: ")
    assert len(lines) == 9 and not any("demo" in line for line in lines)
    assert not (tmp_path / "data").exists()  # nothing created: not the database, not its folder


def wrong_key(env: dict[str, str], upstream: str) -> dict[str, str]:
    if upstream == "bower":  # an entry of SMSACTIVATE_UPSTREAMS: the key rides in the query, refused as BAD_KEY
        entries = json.loads(env["SMSACTIVATE_UPSTREAMS"])
        return env | {"SMSACTIVATE_UPSTREAMS": json.dumps([entries[0] | {"api_key": WRONG_KEY}])}
    return env | {f"{upstream.upper()}_API_KEY": WRONG_KEY}  # a bearer token refused with 401


@pytest.mark.parametrize("upstream", ["smscode", "bower"])
async def test_a_wrong_key_fails_that_upstream_only_and_exit_1(
    upstreams: dict[str, str], tmp_path: Path, upstream: str
) -> None:
    status, lines = await check(tmp_path, wrong_key(upstreams, upstream))
    assert status == 1, lines
    for check_name in (f"{upstream} balance", f"{upstream} catalog"):
        assert line_of(lines, check_name).startswith(f"FAIL  {check_name}: the API key was refused"), lines
    failed = [line for line in lines if not line.startswith("ok    ")]
    assert len(failed) == 2, lines  # the other upstreams, Telegram and the rest still say ok
    assert line_of(lines, "smscartesim balance").startswith("ok    ")
    assert line_of(lines, "telegram").startswith("ok    ")


async def test_telegram_unreachable_is_a_clear_fail_line(upstreams: dict[str, str], tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    status, lines = await check(tmp_path, upstreams | {"TELEGRAM_API_URL": nowhere})
    assert status == 1, lines
    assert line_of(lines, "telegram").startswith(f"FAIL  telegram: cannot reach TELEGRAM_API_URL {nowhere}: "), lines
    assert line_of(lines, "smscartesim catalog").startswith("ok    ")


async def test_a_refused_token_says_so(upstreams: dict[str, str], tmp_path: Path) -> None:
    status, lines = await check(tmp_path, upstreams | {"BOT_TOKEN": "654321:ANOTHER-TOKEN"})
    assert status == 1, lines
    assert line_of(lines, "telegram").startswith("FAIL  telegram: BOT_TOKEN was refused (401 Unauthorized)"), lines
    assert not any("ANOTHER-TOKEN" in line for line in lines)


async def test_a_database_in_use_is_only_read_and_the_demo_is_reported(fake: FakeTelegram, tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    db = await Database.open(database)
    await db.close()
    before = database.read_bytes()
    lock = hold_database_lock(database)  # as a running bot holds it
    try:
        env = {"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake.url, "DATABASE_PATH": str(database), "DEMO_PROVIDER": "on"}
        status, lines = await check(tmp_path, env)
    finally:
        lock.close()
    assert status == 0, lines
    assert line_of(lines, "database") == (
        f"ok    database: {database}, schema up to date; in use by a running bot (pid {os.getpid()}), only read"
    )
    assert line_of(lines, "demo").startswith("ok    demo: DEMO_PROVIDER is on")
    assert "0 upstreams" in line_of(lines, "settings")
    assert database.read_bytes() == before


async def test_an_old_schema_is_fine_and_a_file_that_is_not_sqlite_fails(fake: FakeTelegram, tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA user_version = 3")
    env = {"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake.url, "DATABASE_PATH": str(database), "DEMO_PROVIDER": "on"}
    status, lines = await check(tmp_path, env)
    assert status == 0 and f"schema version 3, migrated to {len(MIGRATIONS)} at start" in line_of(lines, "database")
    database.write_text("these are not the pages you are looking for\n" * 200)
    status, lines = await check(tmp_path, env)
    assert status == 1, lines
    assert line_of(lines, "database") == f"FAIL  database: {database} is not an SQLite database"


async def test_a_database_in_delete_journal_mode_is_left_byte_for_byte(fake: FakeTelegram, tmp_path: Path) -> None:
    """A restored file may be in DELETE mode: the probe's rolled-back write must not switch it to WAL."""
    database = tmp_path / "bot.sqlite3"
    db = await Database.open(database)
    await db.close()
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    before = database.read_bytes()
    env = {"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake.url, "DATABASE_PATH": str(database), "DEMO_PROVIDER": "on"}
    status, lines = await check(tmp_path, env)
    assert status == 0 and line_of(lines, "database") == f"ok    database: {database}, schema up to date", lines
    assert database.read_bytes() == before  # the header says WAL after a switch: bytes 18 and 19
    assert not [s for s in ("-wal", "-shm", "-journal") if database.with_name(database.name + s).exists()]


async def test_in_webhook_mode_a_line_says_who_must_take_the_url(upstreams: dict[str, str], tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    env = upstreams | {"WEBHOOK_URL": url, "WEBHOOK_SECRET": "doctor-webhook-secret-0123"}
    status, lines = await check(tmp_path, env)
    assert status == 0, lines
    api = upstreams["TELEGRAM_API_URL"]
    port = url.rsplit(":", 1)[1].split("/")[0]
    assert line_of(lines, "webhook") == (
        f"ok    webhook: {url}: http on port {port} is taken only by a Bot API server run with --local, "
        f"as {api} must be"
    )
    assert "webhook mode" in line_of(lines, "settings") and len(lines) == 10
    assert not any("doctor-webhook-secret-0123" in line for line in lines)


def test_the_webhook_line_names_the_cloud_or_the_self_hosted_server() -> None:
    cloud = Settings.model_fields["telegram_api_url"].default  # the cloud: the default, never reached here
    own = "http://127.0.0.1:8081"
    assert webhook_line("https://bot.example.com/telegram", cloud) == (
        True,
        "webhook: https://bot.example.com/telegram: https on port 443, where Telegram's cloud posts updates",
    )
    assert webhook_line("https://bot.example.com:8443/t", cloud)[1].endswith(
        "https on port 8443, where Telegram's cloud posts updates"
    )
    assert webhook_line("https://bot.example.com:88/t", own) == (
        True,
        f"webhook: https://bot.example.com:88/t: the Bot API server at {own} posts updates there",
    )
    assert webhook_line("https://bot.example.com:9443/t", own)[1].endswith(
        f"https on port 9443 is taken only by a Bot API server run with --local, as {own} must be"
    )


def test_failures_are_worded_from_the_provider_error_classes() -> None:
    refused = errors.Unauthorized("HTTP 401: Invalid or missing token", provider="smscode", code="UNAUTHORIZED")
    assert failure(refused) == "the API key was refused (HTTP 401: Invalid or missing token (UNAUTHORIZED))"
    assert (
        failure(errors.Unauthorized("BAD_KEY", provider="bower", code="BAD_KEY")) == "the API key was refused (BAD_KEY)"
    )
    assert failure(errors.UnclearResult(provider="x")) == "the upstream cannot be reached or is failing"
    assert failure(errors.RateLimited("slow down", retry_after=3)).startswith("too many requests")
    assert failure(errors.OutOfStock("none left")) == "OutOfStock (none left)"
    assert failure(TimeoutError()) == f"no answer within {CHECK_TIMEOUT:g} s"
