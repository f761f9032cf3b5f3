"""Each check behind /readyz on its own: the database takes a committed write (a file made immutable does
not), the scheduler runs, the poll cycle keeps up, Telegram answered lately; and a broken or hanging
check is a failing check, never a 500."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import aiohttp
import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError, TelegramServerError
from aiogram.methods import GetMe
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.runtime.episodes import MIN_POLL_LAG_SECONDS, PollHeartbeat
from bot.runtime.health import HealthServer, Readiness
from bot.runtime.readiness import WRITE_FRESH_SECONDS, WRITE_TIMEOUT, ReadinessChecks
from bot.runtime.telegram_contact import SILENCE_LIMIT, AnswerRecorder, TelegramContact
from storage.db import Database
from tests.conftest import free_port


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cannot_run(reason: str) -> NoReturn:
    """Skip a test this machine cannot run; under CI=true fail instead: CI must not pass without having run it."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI must run this test: install e2fsprogs, keep the temp dir on ext4 or the like)")
    pytest.skip(reason)


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """``chattr +i`` (as root, chmod stops no write); always undone."""
    if shutil.which("chattr") is None:
        cannot_run("chattr is not installed")
    done: list[Path] = []
    try:
        for path in paths:
            result = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
            if result.returncode != 0:
                cannot_run(f"chattr +i does not work on this filesystem: {result.stderr.strip()}")
            done.append(path)
        yield
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], check=True)


# -- the database ----------------------------------------------------------------------------------


async def test_the_database_check_commits_a_write_and_sees_an_immutable_file(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.runtime.readiness")
    clock = Clock()
    checks = ReadinessChecks(TelegramContact(clock), clock)
    assert await checks.database() == (False, "not open yet")
    checks.db = db
    assert await checks.database() == (True, "takes writes")
    database = tmp_path / "test.sqlite3"
    # not the -shm: SQLite maps it into memory, and a write fault on an immutable mapping kills the process
    with immutable(database, database.with_name(database.name + "-wal")):
        clock.now += WRITE_FRESH_SECONDS
        ok, detail = await checks.database()
        assert not ok and detail.startswith("cannot write:") and "I/O" in detail, detail
        for _ in range(3):  # probed again and again: the same answer, one log line
            clock.now += WRITE_FRESH_SECONDS
            assert await checks.database() == (ok, detail)
    clock.now += WRITE_FRESH_SECONDS
    assert await checks.database() == (True, "takes writes")  # writable again: ready again, same connection
    assert [r.getMessage() for r in caplog.records] == [
        f"readiness: the database is not ready: {detail}",
        "readiness: the database takes writes again",
    ]


async def test_a_rolled_back_write_would_not_have_noticed(db: Database, tmp_path: Path) -> None:
    """Why the probe commits: a write rolled back never leaves SQLite's cache, so it passes on a read-only file."""
    database = tmp_path / "test.sqlite3"
    await db.probe_write()
    with immutable(database, database.with_name(database.name + "-wal")):
        async with db.read() as conn:
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute("INSERT OR REPLACE INTO write_probe (id, written_at) VALUES (1, 'x')")
            await conn.execute("ROLLBACK")  # no error: nothing reached the file
        with pytest.raises(Exception, match="disk I/O error"):
            await db.probe_write()


def count_writes(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[asyncio.Event]:
    """Each probe write started from now on, as an event set once it finished."""
    writes: list[asyncio.Event] = []
    probe = db.probe_write

    async def counted() -> None:
        writes.append(finished := asyncio.Event())
        try:
            await probe()
        finally:
            finished.set()

    monkeypatch.setattr(db, "probe_write", counted)
    return writes


async def test_a_write_that_hangs_fails_the_check_without_cancelling_it(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    checks = ReadinessChecks(TelegramContact(clock), clock)
    checks.db = db
    writes = count_writes(db, monkeypatch)
    held = asyncio.Event()
    release = asyncio.Event()

    async def long_transaction() -> None:
        async with db.transaction():
            held.set()
            await release.wait()

    holder = asyncio.create_task(long_transaction())
    await held.wait()
    ok, detail = await checks.database()
    assert not ok and detail == f"no write taken within {WRITE_TIMEOUT:g} s"
    clock.now += WRITE_FRESH_SECONDS  # a fresh write is due, but the one hanging is still awaited
    assert await checks.database() == (False, detail)
    assert len(writes) == 1 and not writes[0].is_set()  # no second one started behind it, none cancelled
    release.set()
    await holder
    await asyncio.wait_for(writes[0].wait(), 30)  # the hung write went through once the transaction ended
    assert await checks.database() == (True, "takes writes")  # and, being due, a fresh one was taken
    assert len(writes) == 2


async def test_a_burst_of_checks_costs_one_write(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    checks = ReadinessChecks(TelegramContact(clock), clock)
    checks.db = db
    writes = count_writes(db, monkeypatch)
    for _ in range(5):
        assert (await checks.database())[0]
    assert len(writes) == 1
    clock.now += WRITE_FRESH_SECONDS
    assert (await checks.database())[0] and len(writes) == 2


async def test_a_deleted_database_file_fails_the_check(tmp_path: Path) -> None:
    path = tmp_path / "gone.sqlite3"
    db = await Database.open(path)
    try:
        checks = ReadinessChecks(TelegramContact())
        checks.db = db
        assert (await checks.database())[0]
        path.unlink()
        ok, detail = await checks.database()
        assert not ok and "deleted" in detail
    finally:
        await db.close()


# -- the scheduler, the poll cycle, Telegram ------------------------------------------------------------


async def test_the_scheduler_check_follows_its_state() -> None:
    checks = ReadinessChecks(TelegramContact())
    assert checks.scheduler_runs() == (False, "not running")
    scheduler = AsyncIOScheduler(timezone="UTC")
    checks.scheduler = scheduler
    assert checks.scheduler_runs() == (False, "not running")
    scheduler.add_job(asyncio.sleep, "interval", seconds=60, args=[0])
    scheduler.start()
    try:
        assert checks.scheduler_runs() == (True, "running, 1 jobs")
        scheduler.pause()  # what the database watchdog does
        assert checks.scheduler_runs() == (False, "paused")
        scheduler.resume()
        assert checks.scheduler_runs()[0]
    finally:
        scheduler.shutdown(wait=False)
    await asyncio.sleep(0.05)  # AsyncIOScheduler shuts down from its event loop
    assert checks.scheduler_runs() == (False, "not running")


def test_the_poll_check_counts_from_the_start_then_from_the_last_run() -> None:
    clock = Clock()
    checks = ReadinessChecks(TelegramContact(clock), clock)
    assert checks.poll_cycle() == (False, "not scheduled yet")
    heartbeat = PollHeartbeat(interval=5.0, clock=clock)
    checks.poll = heartbeat
    assert checks.poll_cycle() == (False, "not scheduled yet")
    heartbeat.start()
    clock.now += 14
    assert checks.poll_cycle() == (True, "no run finished yet, scheduled 14 s ago")  # a fresh start is no lag
    clock.now += 2
    assert checks.poll_cycle() == (False, "no run finished yet, scheduled 16 s ago; more than 15 s")
    heartbeat.finish()
    clock.now += 15
    assert checks.poll_cycle() == (True, "last run finished 15.0 s ago")
    clock.now += 0.5
    assert checks.poll_cycle() == (False, "last run finished 15.5 s ago; more than 15 s")


def test_a_short_interval_still_allows_a_busy_moment() -> None:
    clock = Clock()
    heartbeat = PollHeartbeat(interval=0.5, clock=clock)
    heartbeat.start()
    clock.now += MIN_POLL_LAG_SECONDS - 0.1
    assert heartbeat.limit == MIN_POLL_LAG_SECONDS and not heartbeat.lagging()
    clock.now += 0.2
    assert heartbeat.lagging()


def test_the_telegram_check_wants_an_answer_within_a_minute() -> None:
    clock = Clock()
    contact = TelegramContact(clock)
    checks = ReadinessChecks(contact, clock)
    assert checks.telegram() == (False, "not reached yet")
    contact.failed("TelegramNetworkError")
    assert checks.telegram() == (False, "not reached yet (TelegramNetworkError)")
    contact.answered()
    clock.now += SILENCE_LIMIT
    assert checks.telegram() == (True, "answered 60 s ago")
    clock.now += 1
    assert checks.telegram() == (False, "no answer for 61 s (TelegramNetworkError)")


async def test_the_session_middleware_records_answers_and_refusals_but_not_network_errors() -> None:
    clock = Clock()
    contact = TelegramContact(clock)
    recorder = AnswerRecorder(contact)

    def raising(error: Exception) -> Any:
        async def make_request(bot: Any, method: Any) -> Any:
            raise error

        return make_request

    async def answering(bot: Any, method: Any) -> str:
        return "answer"

    for error in (TelegramNetworkError(GetMe(), "refused"), TelegramServerError(GetMe(), "Bad Gateway")):
        with pytest.raises(type(error)):
            await recorder(raising(error), None, GetMe())  # type: ignore[arg-type]
        assert contact.last_answer is None and contact.last_error == type(error).__name__
    clock.now += 1
    with pytest.raises(TelegramBadRequest):  # a refusal is an answer: Telegram is there
        await recorder(raising(TelegramBadRequest(GetMe(), "chat not found")), None, GetMe())  # type: ignore[arg-type]
    assert contact.last_answer == 1001.0
    clock.now += 1
    assert await recorder(answering, None, GetMe()) == "answer"  # type: ignore[arg-type]
    assert contact.last_answer == 1002.0


# -- /readyz itself ---------------------------------------------------------------------------------


async def test_readyz_names_each_check_and_a_broken_or_hanging_one_fails_without_a_500() -> None:
    readiness = Readiness(timeout=0.2)

    async def fine() -> tuple[bool, str]:
        return True, "fine"

    def broken() -> tuple[bool, str]:
        raise RuntimeError("boom")

    async def hanging() -> tuple[bool, str]:
        await asyncio.sleep(3600)
        return True, "never"

    readiness.add("async", fine)
    readiness.add("sync", lambda: (True, "sync fine"))
    port = free_port()
    server = HealthServer(readiness, "127.0.0.1", port)
    await server.start()
    try:
        assert await get(port) == (
            200,
            {
                "ready": True,
                "checks": {"async": {"ok": True, "detail": "fine"}, "sync": {"ok": True, "detail": "sync fine"}},
            },
        )
        readiness.add("broken", broken)
        readiness.add("hanging", hanging)
        status, body = await get(port)
        assert status == 503 and body["ready"] is False
        assert body["checks"]["broken"] == {"ok": False, "detail": "check failed: RuntimeError"}
        assert body["checks"]["hanging"] == {"ok": False, "detail": "no answer within 0.2 s"}
        assert body["checks"]["async"]["ok"] is True
    finally:
        await server.stop()


async def get(port: int) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/readyz") as response:
        return response.status, await response.json()
