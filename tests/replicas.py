"""Several real bot processes sharing one PostgreSQL and one Redis, in webhook mode behind a load balancer.

The pieces a two-replica end-to-end test needs: a Redis database of the test's own (:func:`claimed_redis`),
a fake sms-activate both replicas reach over HTTP (one fake, so an SMS the test delivers is there for
whichever replica asks), the fake Bot API in ``--local`` mode posting updates to a round-robin
:class:`tests.fakes.balancer.Balancer`, and the replicas (:class:`Replicas`). Without PostgreSQL or
Redis the test is skipped, except under ``CI=true``, where it fails: CI must never pass it by not running it.
In the SQLite pass it is skipped (its PostgreSQL pass runs it).
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis

from tests import backend
from tests.botproc import BotProcess
from tests.conftest import TOKEN, free_port
from tests.fakes.balancer import Balancer
from tests.fakes.smsactivate import FakeSmsActivate
from tests.fakes.telegram import FakeTelegram

ADMIN, USER = 1, 4242
KEY = "sa-e2e-replicas-key"
SECRET = "e2e-Replicas_secret-0123456789"
US = 187  # sms-activate's id of the United States
CLAIM = "smsbot-tests:claimed-by"  # the key that marks a Redis database as taken by one test


def require_services() -> None:
    """Skip in the SQLite pass (the PostgreSQL pass runs it); in the PostgreSQL pass, skip without PostgreSQL
    and Redis to run on, or under CI=true fail instead."""
    if not backend.ON_POSTGRES:
        pytest.skip("replicas share PostgreSQL: this runs in the PostgreSQL pass (TEST_BACKEND=postgresql)")
    missing = [
        name
        for name, value in (("TEST_DATABASE_URL", backend.SERVER_URL), ("TEST_REDIS_URL", backend.REDIS_URL))
        if not value
    ]
    if not missing:
        return
    reason = f"{' and '.join(missing)} not set: the two-replica test needs PostgreSQL and Redis (see .ci/services)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@asynccontextmanager
async def claimed_redis() -> AsyncIterator[str]:
    """The URL of a Redis database (1-15) that was empty and is now this test's alone (a claim key set with
    NX); flushed when the test ends, so nothing of it outlives the test and no other data is touched."""
    parts = urlsplit(backend.REDIS_URL)
    token = uuid.uuid4().hex
    for number in range(15, 0, -1):
        url = urlunsplit(parts._replace(path=f"/{number}"))
        client = aioredis.from_url(url)
        try:
            if await client.dbsize() == 0 and await client.set(CLAIM, token, nx=True) and await client.dbsize() == 1:
                break
        finally:
            await client.aclose()
    else:
        raise RuntimeError("no empty Redis database (1-15) to claim for the test")
    try:
        yield url
    finally:
        client = aioredis.from_url(url)
        try:
            if await client.get(CLAIM) == token.encode():
                await client.flushdb()
        finally:
            await client.aclose()


def upstream() -> FakeSmsActivate:
    """sms-activate selling WhatsApp in the US (0.20 USD, plenty in stock) and nothing else."""
    fake = FakeSmsActivate(api_key=KEY, balance="1000.00")
    fake.prices = {US: {"wa": [Decimal("0.20"), 10_000]}}
    return fake


class Replicas:
    """``count`` bot processes on one database and one Redis, each with its own web port behind ``balancer``."""

    def __init__(
        self, root: Path, fake: FakeTelegram, upstream_url: str, database_url: str, redis_url: str, count: int = 2
    ) -> None:
        self.fake = fake
        self.ports = [free_port() for _ in range(count)]
        self.balancer = Balancer([f"http://127.0.0.1:{port}" for port in self.ports])
        self.env = {
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": fake.url,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "ADMIN_IDS": str(ADMIN),
            "DEMO_PROVIDER": "off",
            "SMSACTIVATE_API_KEY": KEY,
            "SMSACTIVATE_BASE_URL": upstream_url,
            "WEBHOOK_SECRET": SECRET,
            "LEASE_SECONDS": "3",
            "POLL_INTERVAL_SECONDS": "1",
            "ORDER_TIMEOUT_MINUTES": "1",  # the shortest there is: the orders left without a code expire
            "MARKUP_PERCENT": "30",
            "PURCHASES_PER_MINUTE": "1000",  # the balance is what limits here, not the rate
            "MAX_ACTIVE_ORDERS_PER_USER": "1000",
            "USER_UPDATES_PER_SECOND": "1000",  # a scripted user taps at machine speed
            "USER_UPDATES_BURST": "10000",
            "SHUTDOWN_GRACE_SECONDS": "5",
        }
        self.killed: set[int] = set()  # indexes of the replicas :meth:`kill` ended
        self.procs = [
            BotProcess(root / f"replica{i}", DATABASE_PATH=str(root / f"replica{i}.sqlite3"), **self.env)
            for i in range(count)
        ]

    async def start(self) -> None:
        """Start every replica; back once each called setWebhook (its route takes updates before that)."""
        await self.balancer.__aenter__()
        for proc, port in zip(self.procs, self.ports, strict=True):
            proc.env.update(WEBHOOK_URL=f"{self.balancer.url}/telegram/hook", WEB_PORT=str(port))
            await proc.start()
        await self.fake.wait_for(lambda: len(self.fake.calls_of("setWebhook")) >= len(self.procs), timeout=90)

    def pid(self, index: int) -> int:
        proc = self.procs[index].proc
        assert proc is not None
        return proc.pid

    async def kill(self, index: int) -> None:
        """SIGKILL: a crash, nothing released."""
        self.killed.add(index)
        assert await self.procs[index].stop(signal.SIGKILL) is not None

    async def stop(self) -> dict[int, int | None]:
        """SIGTERM to those still running; index -> exit status (None for one never started)."""
        statuses = {i: await proc.stop(signal.SIGTERM, grace=60) for i, proc in enumerate(self.procs)}
        await self.balancer.__aexit__()
        return statuses

    def outputs(self) -> list[str]:
        return [proc.output() for proc in self.procs]
