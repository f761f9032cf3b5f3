"""One bot process per database: a second one on the same file refuses to start.

Two processes on one database would both long-poll Telegram and message every user twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import DatabaseInUse, hold_database_lock, lock_path
from tests.botproc import ROOT, BotProcess
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:TEST-TOKEN"
USER = 4242


def test_the_lock_is_exclusive_and_released_when_closed(tmp_path: Path) -> None:
    database = tmp_path / "data" / "bot.sqlite3"
    first = hold_database_lock(database)
    assert lock_path(database) == tmp_path / "data" / "bot.sqlite3.lock"
    with pytest.raises(DatabaseInUse) as info:
        hold_database_lock(database)
    assert info.value.database == database and info.value.holder == str(os.getpid())
    assert str(database) in str(info.value)
    first.close()
    hold_database_lock(database).close()  # free again


async def test_a_crashed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys, time; from storage.db import hold_database_lock as h; "
        f"lock = h({str(database)!r}); print('held', flush=True); time.sleep(60)",
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert holder.stdout is not None
    assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"held\n"
    with pytest.raises(DatabaseInUse) as info:
        hold_database_lock(database)
    assert info.value.holder == str(holder.pid)
    holder.send_signal(signal.SIGKILL)
    await holder.wait()
    hold_database_lock(database).close()  # the kernel dropped the dead process's lock


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


async def second_refused(fake: FakeTelegram, first: BotProcess, second: BotProcess) -> tuple[int, list[str], int]:
    """Starts ``first`` until it polls, then ``second`` on the same database until it exits; checked that
    ``second`` never reached Telegram. Its exit status and lines, and the getMe calls made so far."""
    await first.start()
    await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=60)
    started = len(fake.calls_of("getMe"))
    await second.start()
    assert second.proc is not None
    status = await asyncio.wait_for(second.proc.wait(), 60)
    assert len(fake.calls_of("getMe")) == started  # it never reached Telegram
    return status, second.output().strip().splitlines(), started


async def test_a_second_bot_on_the_same_database_refuses_to_start(fake: FakeTelegram, tmp_path: Path) -> None:
    database = tmp_path / "shared" / "bot.sqlite3"
    env = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.url,
        "DATABASE_PATH": str(database),
        "DEMO_PROVIDER": "on",
        "POLL_INTERVAL_SECONDS": "0.5",
    }
    first = BotProcess(tmp_path / "first", **env)
    second = BotProcess(tmp_path / "second", **env)
    try:
        status, lines, _ = await second_refused(fake, first, second)
        assert status == 2, lines
        assert len(lines) == 1 and str(database) in lines[0] and "Traceback" not in lines[0], lines

        # the first one is still running and still serves, once per message
        assert first.proc is not None and first.proc.returncode is None
        polls = len(fake.calls_of("getUpdates"))
        fake.send_message(USER, "/start")
        await fake.wait_for(lambda: any("Welcome" in m.get("text", "") for m in fake.messages_to(USER)), timeout=30)
        await fake.wait_for(lambda: len(fake.calls_of("getUpdates")) > polls, timeout=30)
        assert first.proc.returncode is None
        assert sum("Welcome" in m.get("text", "") for m in fake.messages_to(USER)) == 1

        # once the first has stopped, the database is free for the next start
        await first.stop()
        hold_database_lock(database).close()
    finally:
        for proc in (first, second):
            await proc.stop()
    assert "Traceback" not in first.output(), first.output()[-3000:]
    assert TOKEN not in first.output() and TOKEN not in second.output()
