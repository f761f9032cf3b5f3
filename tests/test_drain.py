"""Shutdown's drain, in process: a job run past the grace period is cut off before the database closes; a
webhook request still being read at the stop is waited for (or refused once the grace is over), and no
update is handled after the drain."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Message
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.jobs import Jobs
from bot.runtime.shutdown import InFlight
from bot.runtime.webhook import WebhookEndpoint
from bot.settings import Settings


def jobs_of(settings: Settings) -> Jobs:
    return Jobs(*cast(Any, (None, None, None, None, None)), settings)


async def test_a_job_run_past_the_grace_is_cancelled_and_awaited(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = jobs_of(settings)
    ended: list[str] = []
    started = asyncio.Event()

    async def backup() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # its own clean-up, which the drain waits for
            ended.append("cancelled")
            raise

    scheduled = asyncio.create_task(jobs.tracked(backup)())  # as the scheduler runs it
    await started.wait()
    assert await jobs.drain(0.2) == 1
    assert ended == ["cancelled"]  # over before the drain returned: the database may close now
    await asyncio.wait_for(scheduled, 5)  # the scheduler's run ends quietly, not with a CancelledError
    assert "1 job runs were still going after the grace period: cut off (" in caplog.text
    assert "backup" in caplog.text


async def test_a_job_run_within_the_grace_finishes(settings: Settings) -> None:
    jobs = jobs_of(settings)
    ended: list[str] = []

    async def poll() -> None:
        await asyncio.sleep(0.2)
        ended.append("done")

    scheduled = asyncio.create_task(jobs.tracked(poll)())
    await asyncio.sleep(0)
    assert await jobs.drain(10) == 0
    assert ended == ["done"] and not jobs._running
    await scheduled


async def test_a_failing_job_still_fails_for_the_scheduler(settings: Settings) -> None:
    jobs = jobs_of(settings)

    async def expire() -> None:
        raise RuntimeError("database locked")

    with pytest.raises(RuntimeError, match="database locked"):
        await jobs.tracked(expire)()
    assert not jobs._running


# -- the webhook: a request still being read at the stop is waited for, or refused ------------------------
SECRET = "drain-test-secret-0123456789"


class Recorded:
    """A dispatcher whose message handler takes a while and records each update it finished."""

    def __init__(self) -> None:
        self.handled: list[int] = []
        self.in_flight = InFlight()
        self.dp = Dispatcher(in_flight=self.in_flight)
        self.in_flight.install(self.dp)

        @self.dp.message()
        async def slow(message: Message) -> None:
            await asyncio.sleep(0.3)
            self.handled.append(message.message_id)


def update_body(update_id: int) -> bytes:
    chat = {"id": 7, "type": "private"}
    message = {"message_id": update_id, "date": 0, "chat": chat, "from": {"id": 7, "is_bot": False, "first_name": "U"}}
    return json.dumps({"update_id": update_id, "message": {**message, "text": "hi"}}).encode()


@asynccontextmanager
async def webhook(shop: Recorded) -> AsyncIterator[tuple[WebhookEndpoint, str, int]]:
    endpoint = WebhookEndpoint("http://127.0.0.1/hook", SECRET)
    app = web.Application()
    endpoint.register(app)
    server = TestServer(app)
    await server.start_server()
    bot = Bot("42:TEST")
    endpoint.attach(shop.dp, bot, shop.in_flight)
    try:
        assert server.host is not None and server.port is not None
        yield endpoint, server.host, server.port
    finally:
        await server.close()
        await bot.session.close()


async def half_sent(host: str, port: int, body: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A webhook POST whose headers and first half of the body are sent; the rest is not (yet)."""
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        f"POST /hook HTTP/1.1\r\nHost: {host}\r\nX-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body[: len(body) // 2])
    await writer.drain()
    return reader, writer


async def rest_sent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes) -> int:
    """Send the rest of the body; the response's status."""
    writer.write(body[len(body) // 2 :])
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return int(status_line.split()[1])


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in 5 s")


async def test_a_webhook_request_read_during_the_stop_is_handled_before_the_drain_ends() -> None:
    shop = Recorded()
    async with webhook(shop) as (endpoint, host, port):
        body = update_body(101)
        reader, writer = await half_sent(host, port, body)
        await until(lambda: shop.in_flight.reading == 1)  # past the secret check, reading the body
        endpoint.close()  # the stop: no new requests
        drain = asyncio.create_task(shop.in_flight.drain(10))
        await asyncio.sleep(0.3)
        assert not drain.done()  # it waits for the request, whose update is not even read
        assert await rest_sent(reader, writer, body) == 200
        assert await asyncio.wait_for(drain, 10) == 0
        assert shop.handled == [101]  # handled before the drain ended, so before the database closes


async def test_a_webhook_request_still_read_after_the_grace_is_refused_not_handled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shop = Recorded()
    async with webhook(shop) as (endpoint, host, port):
        body = update_body(102)
        reader, writer = await half_sent(host, port, body)
        await until(lambda: shop.in_flight.reading == 1)
        endpoint.close()
        assert await shop.in_flight.drain(0.2) == 0
        assert "1 webhook requests were still being read after the grace period" in caplog.text
        assert await rest_sent(reader, writer, body) == 503  # Telegram delivers it again at the next start
        await asyncio.sleep(0.5)
        assert shop.handled == []


async def test_an_update_after_the_drain_is_not_handled() -> None:
    shop = Recorded()
    bot = Bot("42:TEST")
    try:
        assert await shop.in_flight.drain(1) == 0
        await shop.dp.feed_raw_update(bot, json.loads(update_body(103)))
        assert shop.handled == []
    finally:
        await bot.session.close()


def test_in_flight_is_the_outermost_middleware() -> None:
    aiogram_own = list(Dispatcher().update.outer_middleware)  # errors, user context, FSM
    shop = Recorded()
    chain = list(shop.dp.update.outer_middleware)
    assert chain[0] is shop.in_flight
    assert [type(m) for m in chain[1:]] == [type(m) for m in aiogram_own]
