"""Long polling on PostgreSQL keeps its one-poller lock while it runs (bot/runtime/polling_lock.py).

Its connection lost (here: the server ends the session), the lock is taken again on a new one; if another
process took it meanwhile, the bot is stopped and the run ends with POLLING_LOST. Taken at the start:
tests/test_scale_runtime.py.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from bot.runtime.polling_lock import POLLING_LOST, PollingLock, alone_if_polling
from bot.runtime.startup import StartupError
from bot.settings import Settings
from storage.postgres import dsn_of, lock_key
from tests import backend

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not backend.ON_POSTGRES, reason="a PostgreSQL server (TEST_BACKEND=postgresql)"),
]

KEY = lock_key("long-polling")


@pytest.fixture
async def admin(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    assert settings.postgres_url is not None
    conn = await asyncpg.connect(dsn_of(settings.postgres_url))
    yield conn
    await conn.close()


async def end_session(admin: asyncpg.Connection, pid: int) -> None:
    """What a PostgreSQL restart or a dropped connection does to the lock's session (waits until it is gone)."""
    assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(200):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in 10 s")


async def test_a_lost_connection_takes_the_lock_again_and_the_bot_runs_on(
    settings: Settings, admin: asyncpg.Connection
) -> None:
    assert settings.postgres_url is not None
    lock = PollingLock(settings.postgres_url, check_every=0.1, retake_for=5)
    stops: list[str] = []
    assert await lock.take()
    assert lock.conn is not None
    first = lock.conn.get_server_pid()
    watcher = asyncio.create_task(lock.watch(lambda: stops.append("stop")))
    try:
        await end_session(admin, first)

        async def held_again() -> bool:
            return lock.conn is not None and lock.conn.get_server_pid() != first

        await until(held_again)
        assert not await admin.fetchval("SELECT pg_try_advisory_lock($1)", KEY)  # held, by the new session
        assert stops == [] and not lock.lost
    finally:
        watcher.cancel()
        await lock.release()
    assert await admin.fetchval("SELECT pg_try_advisory_lock($1)", KEY)  # released at the end
    await admin.fetchval("SELECT pg_advisory_unlock($1)", KEY)


@pytest.mark.parametrize("phase", ["starting", "running"])
async def test_a_lock_another_process_took_meanwhile_stops_the_bot(
    settings: Settings, admin: asyncpg.Connection, phase: str
) -> None:
    """Running (its SIGTERM handler installed), the bot gets the usual SIGTERM and stops gracefully; still
    starting (no handler: SIGTERM would kill the process), its task is cancelled. Either way: POLLING_LOST."""
    stopped = asyncio.Event()
    running = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def polling_bot() -> None:  # runs until SIGTERM, as the real one does once polling
        running.set()
        await stopped.wait()

    if phase == "running":
        loop.add_signal_handler(signal.SIGTERM, stopped.set)
    try:
        run = asyncio.create_task(alone_if_polling(settings, polling_bot(), check_every=0.2, retake_for=0.5))
        await asyncio.wait_for(running.wait(), 10)
        holder = await admin.fetchval(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
            "((classid::bigint << 32) | objid::bigint) = $1",
            KEY,
        )
        await end_session(admin, holder)
        assert await admin.fetchval("SELECT pg_try_advisory_lock($1)", KEY)  # a second poller, in the gap
        with pytest.raises(StartupError) as raised:
            await asyncio.wait_for(run, 10)
    finally:
        if phase == "running":
            loop.remove_signal_handler(signal.SIGTERM)
    assert str(raised.value) == POLLING_LOST
    assert stopped.is_set() == (phase == "running")  # the graceful stop, or the start-up cut short
