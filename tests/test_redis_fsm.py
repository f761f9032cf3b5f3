"""REDIS_URL: replicas share the FSM and take a user's updates one at a time.

Two Dispatchers, each built by bot/app.py's own wiring (:func:`bot.app.build_dispatcher`) as two replicas
would build theirs, on one Redis: a state set through one is read through the other; a bot with another
token does not see it; two updates of one user fed to the two at once run one after the other. The same
two Dispatchers without REDIS_URL (memory, as on one process) overlap: the isolation is Redis's doing.

Needs a Redis server (TEST_REDIS_URL, as .ci/services prints it): skipped without one, failed under CI.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from aiogram.types import Update
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.app import build_dispatcher
from bot.settings import Settings
from handlers.fsm_storage import FSM_TTL
from storage.backends import Store
from tests import backend
from tests.inprocess import _detach_routers

pytestmark = pytest.mark.postgres  # the replicas' setting: PostgreSQL and Redis together

REDIS_URL = backend.REDIS_URL
USER = 7_310_001


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("TEST_REDIS_URL is not set: CI must run the Redis tests (.ci/services starts a server)")
        pytest.skip("no Redis server: set TEST_REDIS_URL (see .ci/services)")
    return REDIS_URL


@pytest.fixture
def bot_id() -> int:
    """A bot id of this test alone: other tests on the same Redis never see its keys."""
    return random.randrange(10**9, 2 * 10**9)


@pytest.fixture
async def keys(redis_url: str, bot_id: int) -> AsyncIterator[Redis]:
    """A plain client on the test Redis; every key of this test's bots deleted after."""
    client = Redis.from_url(redis_url)
    yield client
    for other in (bot_id, bot_id + 1):
        found = [key async for key in client.scan_iter(f"smsbot:{other}:*")]
        if found:
            await client.delete(*found)
    await client.aclose()


def replica_settings(settings: Settings, redis_url: str | None) -> Settings:
    return settings.model_copy(update={"redis_url": SecretStr(redis_url) if redis_url else None})


@asynccontextmanager
async def replicas(
    settings: Settings, db: Store, bot_id: int, count: int = 2
) -> AsyncIterator[tuple[Bot, list[Dispatcher]]]:
    """``count`` Dispatchers built by :func:`bot.app.build_dispatcher` for one bot, as each replica builds its
    own (their handlers' routers are module globals, set free after each build: see tests/inprocess.py)."""
    bot = Bot(f"{bot_id}:TEST-TOKEN-{bot_id}")
    built: list[Dispatcher] = []
    try:
        for _ in range(count):
            built.append(await build_dispatcher(settings, bot, db, []))
            _detach_routers(built[-1])
        yield bot, built
    finally:
        for dp in built:
            await dp.fsm.close()
            await dp["catalog"].close()
        await bot.session.close()


async def test_a_state_set_on_one_replica_is_read_on_the_other(
    settings: Settings, db: Store, redis_url: str, bot_id: int, keys: Redis
) -> None:
    with_redis = replica_settings(settings, redis_url)
    async with replicas(with_redis, db, bot_id) as (bot, (one, two)):
        assert isinstance(one.storage, RedisStorage) and isinstance(one.fsm.events_isolation, RedisEventIsolation)
        here = one.fsm.get_context(bot, chat_id=USER, user_id=USER)
        await here.set_state("Support:writing")
        await here.update_data(draft="my number never got a code")
        there = two.fsm.get_context(bot, chat_id=USER, user_id=USER)
        assert await there.get_state() == "Support:writing"
        assert await there.get_data() == {"draft": "my number never got a code"}

        # the keys carry the bot's id and expire: another bot on this Redis sees nothing
        ttl = await keys.ttl(f"smsbot:{bot_id}:{USER}:{USER}:state")
        assert 0 < ttl <= FSM_TTL.total_seconds()
        async with replicas(with_redis, db, bot_id + 1, count=1) as (other_bot, (other,)):
            assert await other.fsm.get_context(other_bot, chat_id=USER, user_id=USER).get_state() is None

        await there.clear()  # a form finished on the second replica is gone from the first
        assert await here.get_state() is None and await here.get_data() == {}
        assert [key async for key in keys.scan_iter(f"smsbot:{bot_id}:*")] == []


class Timed:
    """An inner update middleware that records when each update ran and stops it there (no handler)."""

    def __init__(self, spans: list[tuple[float, float]], hold: float) -> None:
        self.spans, self.hold = spans, hold

    async def __call__(
        self, handler: Callable[[Update, dict[str, Any]], Awaitable[Any]], event: Update, data: dict[str, Any]
    ) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(self.hold)
        self.spans.append((start, loop.time()))


def message(update_id: int, text: str) -> Update:
    user = {"id": USER, "is_bot": False, "first_name": "Ann", "language_code": "en"}
    chat = {"id": USER, "type": "private", "first_name": "Ann"}
    return Update.model_validate(
        {
            "update_id": update_id,
            "message": {"message_id": update_id, "date": 0, "chat": chat, "from": user, "text": text},
        }
    )


async def two_updates_at_once(settings: Settings, db: Store, bot_id: int) -> list[tuple[float, float]]:
    """One user's two messages, one to each of two replicas, at the same moment: when each ran."""
    spans: list[tuple[float, float]] = []
    async with replicas(settings, db, bot_id) as (bot, (one, two)):
        for dp in (one, two):
            dp.update.middleware(Timed(spans, hold=0.4))
        await asyncio.gather(one.feed_update(bot, message(1, "first")), two.feed_update(bot, message(2, "second")))
    assert len(spans) == 2  # both ran to the middleware
    return sorted(spans)


async def test_one_users_updates_on_two_replicas_run_one_at_a_time(
    settings: Settings, db: Store, redis_url: str, bot_id: int, keys: Redis
) -> None:
    (_, first_end), (second_start, _) = await two_updates_at_once(replica_settings(settings, redis_url), db, bot_id)
    assert second_start >= first_end  # the second waited for the first's lock in Redis

    (_, first_end), (second_start, _) = await two_updates_at_once(replica_settings(settings, None), db, bot_id)
    assert second_start < first_end  # in memory, each replica on its own: they overlap


async def test_an_update_under_way_at_shutdown_finishes_before_redis_is_closed(
    settings: Settings, db: Store, redis_url: str, bot_id: int, keys: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """aiogram closes the FSM storage at shutdown; the shop's drain waits for the updates under way first, so
    one holding its user's Redis lock at the stop still releases it (a closed pool failed it, mid-release)."""
    spans: list[tuple[float, float]] = []
    closed: list[float] = []
    async with replicas(replica_settings(settings, redis_url), db, bot_id, count=1) as (bot, (dp,)):
        dp.update.middleware(Timed(spans, hold=0.4))
        storage_close = dp.fsm.storage.close

        async def close() -> None:
            closed.append(asyncio.get_running_loop().time())
            await storage_close()

        dp.fsm.storage.close = close  # type: ignore[method-assign]
        update = asyncio.create_task(dp.feed_update(bot, message(1, "tapped just before the stop")))
        lock = f"smsbot:{bot_id}:{USER}:{USER}:lock"
        for _ in range(100):
            if await keys.exists(lock):
                break
            await asyncio.sleep(0.01)
        assert await keys.exists(lock)  # the update is under way, holding its user's lock
        await dp.emit_shutdown(**dp.workflow_data, dispatcher=dp, bot=bot)
        await update
    assert len(spans) == 1 and len(closed) >= 1
    assert closed[0] >= spans[0][1]  # the storage closed after the update ended, not under it
    assert not await keys.exists(lock)  # and its lock was released
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
