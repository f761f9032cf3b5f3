"""The fake Bot API's webhook side (tests/fakes/telegram_webhook.py) against real aiogram and a real
HTTP receiver: setWebhook checked like Telegram (the cloud: https on its four ports only; a self-hosted
server in --local mode: http and any port), getUpdates refused while it is set, updates POSTed in order
with the secret token, retried until the receiver takes them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError
from aiohttp import web

from tests.fakes.telegram import FakeTelegram

USER = 777


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A self-hosted Bot API server in --local mode: the receivers here are plain http on the loopback."""
    async with FakeTelegram(local=True) as fake:
        fake.webhook.retry_delay = 0.05
        yield fake


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
    yield bot
    await bot.session.close()


async def test_the_cloud_takes_only_https_on_443_80_88_8443_and_a_local_server_any(bot: Bot) -> None:
    async with FakeTelegram() as cloud:
        cloud_bot = Bot(cloud.token, session=AiohttpSession(api=TelegramAPIServer.from_base(cloud.url)))
        try:
            with pytest.raises(TelegramBadRequest, match="An HTTPS URL must be provided for webhook"):
                await cloud_bot.set_webhook("http://example.com/hook")
            for port in (8080, 8081, 444, 1):
                with pytest.raises(TelegramBadRequest, match="only on ports 80, 88, 443 or 8443"):
                    await cloud_bot.set_webhook(f"https://example.com:{port}/hook")
            assert (await cloud_bot.get_webhook_info()).url == ""
            for url in ("https://example.com/hook", *(f"https://example.com:{p}/hook" for p in (443, 80, 88, 8443))):
                assert await cloud_bot.set_webhook(url)
                assert (await cloud_bot.get_webhook_info()).url == url
        finally:
            await cloud_bot.session.close()
    for url in ("http://127.0.0.1:8080/hook", "https://example.com:9443/hook", "http://example.com/hook"):
        assert await bot.set_webhook(url)  # the --local server of the fixture
        assert (await bot.get_webhook_info()).url == url


class Receiver:
    """A webhook receiver that refuses the first ``refuse`` requests with 500, then keeps what it gets."""

    def __init__(self, refuse: int) -> None:
        self.refuse = refuse
        self.received: list[tuple[int, str | None]] = []  # (update id, secret header)
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        if self.refuse > 0:
            self.refuse -= 1
            return web.Response(status=500)
        update = await request.json()
        self.received.append((update["update_id"], request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        return web.json_response({})

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def test_set_webhook_is_checked_like_telegram(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest):
        await bot.set_webhook("ftp://example.com/hook")
    with pytest.raises(TelegramBadRequest):
        await bot.set_webhook("https:///hook")
    with pytest.raises(TelegramBadRequest, match="secret token"):
        await bot.set_webhook("https://example.com/hook", secret_token="not allowed!")
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates(timeout=0) == []


async def test_while_a_webhook_is_set_get_updates_is_refused(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot.set_webhook("https://example.com/hook", secret_token="s3cr-t_", allowed_updates=["message"])
    info = await bot.get_webhook_info()
    assert (info.url, info.allowed_updates) == ("https://example.com/hook", ["message"])
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates(timeout=0)
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates(timeout=0) == []


async def test_updates_are_posted_in_order_and_retried_until_taken(fake: FakeTelegram, bot: Bot) -> None:
    async with Receiver(refuse=2) as receiver:
        fake.send_message(USER, "/start")
        fake.send_message(USER, "second")
        first_id = fake.last_update_id - 1
        assert await bot.set_webhook(receiver.url, secret_token="the_secret")
        await fake.wait_for(lambda: len(receiver.received) == 2)
        assert receiver.received == [(first_id, "the_secret"), (first_id + 1, "the_secret")]
        assert [status for _update, status in fake.webhook.posts] == [500, 500, 200, 200]
        assert first_id in fake.served_at
        assert (await bot.get_webhook_info()).pending_update_count == 0  # delivered ones are dropped

        assert await fake.post_to_webhook(fake.message_update(USER, "raw"), secret=None) == 200
        assert receiver.received[-1][1] is None  # sent without the header, as asked
