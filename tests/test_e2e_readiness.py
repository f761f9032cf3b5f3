"""End to end: /readyz of the real bot process turns 503 naming the database while its file cannot be
written, and 200 again once it can, without a restart.

The tests run as root, where chmod stops no write, so the file is made immutable (``chattr +i``, which
ext4 and most Linux filesystems support). The database and its WAL are; the ``-shm`` is not: SQLite
maps it into memory, and the kernel answers a write to an immutable mapping with SIGBUS, which kills
the process rather than refusing a write. ``chattr -i`` always runs, also when the test fails.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.runtime.telegram_contact import KEEPALIVE_AFTER
from tests import backend
from tests.conftest import bot_process, free_port
from tests.fakes.telegram import FakeTelegram
from tests.test_readiness import cannot_run

TOKEN = "123456:TEST-TOKEN"
ADMIN, USER = 1, 4242
CHECKS = ["telegram", "database", "scheduler", "poll"]
WAIT = 60.0  # seconds for /readyz to change its answer (a slow CI machine)
pytestmark = pytest.mark.postgres


async def readyz(port: int) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/readyz") as response:
        return response.status, await response.json()


def chattr(flag: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, text=True)


def immutable_works(folder: Path) -> str | None:
    """Why ``chattr +i`` cannot be used in ``folder``, or None when it works there."""
    if shutil.which("chattr") is None:
        return "chattr is not installed"
    probe = folder / "chattr-probe"
    probe.write_text("x")
    try:
        result = chattr("+i", probe)
        if result.returncode != 0:
            return f"chattr +i does not work on this filesystem: {result.stderr.strip()}"
        try:
            probe.write_text("y")
        except PermissionError:
            return None
        return "an immutable file still takes writes here"
    finally:
        chattr("-i", probe)
        probe.unlink()


async def test_readyz_says_503_while_the_database_cannot_be_written_and_200_again_after(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    if backend.ON_POSTGRES:  # a server's write failures are its own; the probe's commit: test_scale_runtime.py
        pytest.skip("an SQLite file made read-only: on PostgreSQL there is no database file")
    if (reason := immutable_works(tmp_path)) is not None:
        cannot_run(reason)
    database = tmp_path / "data" / "bot.sqlite3"
    files = [database, database.with_name(database.name + "-wal")]
    port = free_port()
    bot = bot_process(
        fake,
        tmp_path,
        DATABASE_PATH=str(database),
        ADMIN_IDS=str(ADMIN),
        POLL_INTERVAL_SECONDS="0.5",
        WEB_PORT=str(port),
    )
    try:
        await bot.start()
        await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=60)
        body = await ready_body(port, 200)
        assert list(body["checks"]) == CHECKS and all(c["ok"] for c in body["checks"].values()), body
        assert body["checks"]["database"]["detail"] == "takes writes"
        assert all(path.exists() for path in files)

        try:
            assert chattr("+i", *files).returncode == 0
            body = await ready_body(port, 503)
            database_check = body["checks"]["database"]
            assert database_check["ok"] is False and "cannot write" in database_check["detail"], body
            assert body["checks"]["telegram"]["ok"] is True and body["checks"]["scheduler"]["ok"] is True, body
        finally:
            chattr("-i", *files)

        body = await ready_body(port, 200)  # the same process, no restart
        assert all(c["ok"] for c in body["checks"].values()), body
        fake.send_message(USER, "/start")  # and it really writes again: a new user is stored
        await fake.wait_for(lambda: any("Welcome" in m.get("text", "") for m in fake.messages_to(USER)), timeout=30)
        assert bot.proc is not None and bot.proc.returncode is None
    finally:
        chattr("-i", *files)
        status = await bot.stop()
    log = bot.output()
    assert status == 0, log[-3000:]
    assert "readiness: the database is not ready: cannot write" in log and TOKEN not in log, log[-3000:]


async def ready_body(port: int, status: int) -> Any:
    """The body of /readyz once it answers ``status`` (asked every 0.2 s, for up to :data:`WAIT` seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        got, body = await readyz(port)
        if got == status:
            return body
        if loop.time() >= deadline:
            raise AssertionError(f"/readyz did not answer {status} within {WAIT:g} s: {got} {body}")
        await asyncio.sleep(0.2)


@pytest.fixture
async def local_fake() -> AsyncIterator[FakeTelegram]:
    """A self-hosted Bot API server in --local mode: it posts to the bot's plain http port on the loopback."""
    async with FakeTelegram(token=TOKEN, local=True) as server:
        yield server


async def test_in_webhook_mode_an_idle_bot_keeps_telegram_answering_with_get_me(
    local_fake: FakeTelegram, tmp_path: Path
) -> None:
    """Nothing is sent while no update comes: the keep-alive asks getMe, so Telegram has answered within
    the last minute and /readyz stays 200 (that takes 20 s of silence: the test waits for it)."""
    fake = local_fake
    port = free_port()
    bot = bot_process(
        fake,
        tmp_path,
        WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
        WEB_PORT=str(port),
        WEBHOOK_SECRET="readiness-secret_0123",
    )
    try:
        await bot.start()
        await fake.wait_for(lambda: fake.webhook.url, timeout=60)
        started = len(fake.calls_of("getMe"))
        body = await ready_body(port, 200)
        assert list(body["checks"]) == CHECKS, body
        await fake.wait_for(lambda: len(fake.calls_of("getMe")) > started, timeout=KEEPALIVE_AFTER + 30)
        status, body = await readyz(port)
        assert status == 200 and body["checks"]["telegram"]["ok"] is True, body
        seconds = int(body["checks"]["telegram"]["detail"].split()[1])  # "answered N s ago"
        assert seconds < KEEPALIVE_AFTER, body
        assert not fake.calls_of("getUpdates")  # the keep-alive is getMe, never a poll
    finally:
        status = await bot.stop(signal.SIGTERM, grace=60)
    assert status == 0 and "Traceback" not in bot.output(), bot.output()[-3000:]
