"""The bot process on PostgreSQL: no file lock (replicas share the server), ``check`` asks the server and
never prints its password, backups are the server's own tools', and the figures and the readiness probe
read and write through the store. The parts that need no server run on both backends."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry

from bot.__main__ import secrets
from bot.runtime.backups import ScheduledBackups, backup_command, restore_command
from bot.runtime.database_check import postgres_line, shown_url
from bot.runtime.logs import SecretFilter
from bot.runtime.polling_lock import POLLING_TAKEN
from bot.runtime.readiness import ReadinessChecks
from bot.runtime.shop_metrics import ShopFigures
from bot.runtime.telegram_contact import TelegramContact
from bot.settings import Settings
from storage.backends import Store
from storage.migrations.postgres import POSTGRES
from tests import backend
from tests.botproc import BotProcess
from tests.conftest import TOKEN, add_user, bot_process, free_port
from tests.fakes.telegram import FakeTelegram
from tests.test_doctor import check
from tests.test_single_instance import second_refused

pytestmark = pytest.mark.postgres

PASSWORD = "s3cret-Pa55word"
POSTGRES_URL = f"postgresql://shop:{PASSWORD}@127.0.0.1:{free_port()}/shop"  # nothing listens there
REDIS_PASSWORD = "r3dis-Pa55word"
on_postgres = pytest.mark.skipif(not backend.ON_POSTGRES, reason="a PostgreSQL server (TEST_BACKEND=postgresql)")


def pg_settings(tmp_path: Path, url: str = POSTGRES_URL, **extra: object) -> Settings:
    return Settings(
        _env_file=None,
        bot_token=TOKEN,
        database_path=tmp_path / "bot.sqlite3",
        database_url=url,
        redis_url=f"redis://:{REDIS_PASSWORD}@127.0.0.1:6379/0",
        **extra,
    )  # type: ignore[call-arg]


def test_urls_are_shown_with_the_password_masked_and_the_passwords_are_secrets(tmp_path: Path) -> None:
    assert shown_url(POSTGRES_URL) == POSTGRES_URL.replace(PASSWORD, "***")
    assert shown_url("postgresql://shop@db:5432/shop") == "postgresql://shop@db:5432/shop"  # none to hide
    assert (
        shown_url("postgresql://shop@db/shop?sslmode=disable&password=pw")
        == "postgresql://shop@db/shop?sslmode=disable&password=***"
    )
    mask = SecretFilter(secrets(pg_settings(tmp_path))).mask  # as the log and `check` mask
    said = f"auth failed with {PASSWORD} and {REDIS_PASSWORD}"
    assert mask(said) == "auth failed with *** and ***"  # long enough: masked anywhere, not only in a URL


def test_short_and_query_passwords_are_masked_in_urls_and_ordinary_words_stay(tmp_path: Path) -> None:
    """A password of two characters is masked where a URL holds it (masking "ab" everywhere would garble
    every line), and so is one given as ``?password=`` in the DSN, which libpq and asyncpg both read."""
    settings = Settings(
        _env_file=None,
        bot_token=TOKEN,
        database_path=tmp_path / "bot.sqlite3",
        database_url="postgresql://shop:ab@127.0.0.1:5432/shop?password=x9&sslmode=disable",
        redis_url="redis://:r1@127.0.0.1:6379/0",
    )  # type: ignore[call-arg]
    mask = SecretFilter(secrets(settings)).mask
    said = "no server at postgresql://shop:ab@127.0.0.1:5432/shop?password=x9&sslmode=disable, redis://:r1@127.0.0.1"
    assert mask(f"{said}: a table x9y r1") == (
        "no server at postgresql://shop:***@127.0.0.1:5432/shop?password=***&sslmode=disable, redis://:***@127.0.0.1"
        ": a table x9y r1"
    )
    assert mask("postgresql://shop:ab%21@h/shop") == "postgresql://shop:ab%21@h/shop"  # another password: kept


def test_backup_and_restore_refuse_on_postgresql_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = pg_settings(tmp_path)
    assert backup_command(settings, []) == 2
    assert restore_command(settings, [str(tmp_path / "copy.sqlite3")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "backup refused: DATABASE_URL is PostgreSQL: back it up with pg_dump",
        "restore refused: DATABASE_URL is PostgreSQL: restore a pg_dump copy with pg_restore",
    ]
    assert not list(tmp_path.iterdir())  # no SQLite file made on the way


def test_scheduled_backups_are_off_on_postgresql_and_say_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    scheduler = AsyncIOScheduler(timezone="UTC")
    caplog.set_level(logging.INFO, logger="bot.runtime.backups")
    on_sqlite = pg_settings(tmp_path, f"sqlite:///{tmp_path}/bot.sqlite3", backup_dir=tmp_path / "backups")
    ScheduledBackups(on_sqlite, None).schedule(scheduler, lambda job: job, {})  # type: ignore[arg-type]
    assert [job.id for job in scheduler.get_jobs()] == ["backup"]  # the same settings on SQLite: scheduled
    scheduler.remove_all_jobs()
    ScheduledBackups(pg_settings(tmp_path, backup_dir=tmp_path / "backups"), None).schedule(
        scheduler, lambda job: job, {}
    )  # type: ignore[arg-type]
    assert scheduler.get_jobs() == []
    assert [r.getMessage() for r in caplog.records if "PostgreSQL" in r.getMessage()] == [
        "scheduled backups are off on PostgreSQL: back the database up with pg_dump"
    ]


async def test_an_unreachable_server_is_a_failed_check_line_without_the_password() -> None:
    passed, line = await postgres_line(POSTGRES_URL, 5)
    assert not passed and line.startswith(f"database: PostgreSQL at {shown_url(POSTGRES_URL)} cannot be reached: ")
    assert PASSWORD not in line


async def test_the_bot_on_an_unreachable_server_stops_in_one_line(fake: FakeTelegram, tmp_path: Path) -> None:
    proc = bot_process(fake, tmp_path, DATABASE_URL=POSTGRES_URL)
    await proc.start()
    assert proc.proc is not None
    status = await asyncio.wait_for(proc.proc.wait(), 60)
    out = proc.output()
    assert status == 2, out
    lines = [line for line in out.splitlines() if not line.startswith("{") and " INFO " not in line]
    assert lines == [line for line in lines if line.startswith("DATABASE_URL cannot be used: PostgreSQL at ")], out
    assert len(lines) == 1 and shown_url(POSTGRES_URL) in lines[0], out
    assert PASSWORD not in out and "Traceback" not in out
    assert not fake.calls_of("getMe")  # stopped before Telegram
    assert not (tmp_path / "bot.sqlite3.lock").exists()  # no SQLite file lock on PostgreSQL


async def test_the_figures_and_the_readiness_write_go_through_the_store(db: Store, tmp_path: Path) -> None:
    await add_user(db, 501, balance=700)
    await add_user(db, 502)
    figures = ShopFigures(db, tmp_path / "test.sqlite3", [], "USD")
    registry = CollectorRegistry()
    registry.register(figures)
    await figures.refresh()
    assert registry.get_sample_value("smsbot_users") == 2
    assert registry.get_sample_value("smsbot_users_with_balance") == 1
    assert registry.get_sample_value("smsbot_balances_minor", {"currency": "USD"}) == 700
    assert registry.get_sample_value("smsbot_ledger_minor", {"kind": "admin_credit", "currency": "USD"}) == 700

    checks = ReadinessChecks(TelegramContact())
    checks.db = db
    assert await checks.database() == (True, "takes writes")
    async with db.read() as conn, conn.execute("SELECT written_at FROM write_probe WHERE id = 1") as cursor:
        assert (await cursor.fetchone()) is not None  # a committed row, not a rolled-back one


@on_postgres
async def test_check_reports_the_server_and_its_schema_without_the_password(
    fake: FakeTelegram, tmp_path: Path, database_url: str
) -> None:
    env = {"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake.url, "DATABASE_URL": database_url, "DEMO_PROVIDER": "on"}
    password = database_url.split("://", 1)[1].split("@")[0].partition(":")[2]
    status, lines = await check(tmp_path, env, *([password] if password else []))  # neither prints it
    assert status == 0, lines
    shown = shown_url(database_url)
    assert f"ok    database: PostgreSQL at {shown}, schema up to date" in lines, lines
    assert not (tmp_path / "run" / "data").exists()  # no SQLite file at the default DATABASE_PATH, no folder for it
    passed, line = await postgres_line(database_url, 10)
    assert passed and line == f"database: PostgreSQL at {shown}, schema up to date" and max(POSTGRES) >= 12


@on_postgres
async def test_a_second_long_polling_process_on_one_postgresql_database_refuses(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """No file lock on PostgreSQL, but one poller: Telegram answers a second getUpdates with 409, so a second
    long-polling process is refused in one line (several replicas use WEBHOOK_URL); once the first stops, the
    next one starts. On SQLite the file lock refuses it: tests/test_single_instance.py."""
    first = bot_process(fake, tmp_path / "a")
    env = dict(first.env)
    shared = {k: env[k] for k in ("BOT_TOKEN", "TELEGRAM_API_URL", "DEMO_PROVIDER", "DATABASE_URL", "DATABASE_PATH")}
    second, third = BotProcess(tmp_path / "b", **shared), BotProcess(tmp_path / "c", **shared)
    try:
        status, lines, started = await second_refused(fake, first, second)
        assert status == 2 and lines == [POLLING_TAKEN], lines
        assert first.proc is not None and first.proc.returncode is None
        assert await first.stop() == 0
        await third.start()  # the lock went with the first process's session
        await fake.wait_for(lambda: len(fake.calls_of("getMe")) > started, timeout=60)
        await fake.wait_for(lambda: "bot started" in third.output(), timeout=60)
    finally:
        for proc in (first, second, third):
            await proc.stop()
    for proc in (first, third):
        assert "Traceback" not in proc.output(), proc.output()[-3000:]
        assert "bot started" in proc.output()
