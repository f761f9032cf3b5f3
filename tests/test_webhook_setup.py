"""setWebhook / deleteWebhook at start: retried without limit while Telegram is unreachable (a blip must
not end the bot: exit 2 means "do not restart"), stopped by the stop signal, refused (400) in one line."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError
from aiogram.methods import SetWebhook

from bot.runtime.startup import StartupError
from bot.runtime.webhook import set_webhook

URL = "https://bot.example.com/hook"
METHOD = SetWebhook(url=URL)


class Unreachable:
    """A Bot whose setWebhook fails ``failures`` times (network), then answers; or hangs when told to."""

    def __init__(self, failures: int, *, hang: bool = False, refuse: bool = False) -> None:
        self.failures = failures
        self.hang = hang
        self.refuse = refuse
        self.calls = 0

    async def set_webhook(self, url: str, **params: Any) -> bool:
        self.calls += 1
        if self.refuse:
            raise TelegramBadRequest(METHOD, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        if self.hang:
            await asyncio.sleep(3600)
        if self.calls <= self.failures:
            raise TelegramNetworkError(METHOD, "Request timeout error")
        return True


async def setting(bot: Unreachable, stop: asyncio.Event) -> bool:
    return await set_webhook(cast(Bot, bot), URL, "s3cret", ["message"], stop=stop, retry_max=0.02, first_delay=0.01)


async def test_set_webhook_is_retried_past_any_count_until_telegram_answers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.runtime.webhook")
    bot = Unreachable(failures=12)
    assert await asyncio.wait_for(setting(bot, asyncio.Event()), 10) is True
    assert bot.calls == 13
    assert "setWebhook failed (attempt 12)" in caplog.text and "setWebhook answered after 13 attempts" in caplog.text
    assert "s3cret" not in caplog.text


async def test_the_stop_ends_the_retries_without_an_error() -> None:
    bot = Unreachable(failures=10**6)
    stop = asyncio.Event()
    task = asyncio.create_task(setting(bot, stop))
    await asyncio.sleep(0.2)
    assert not task.done() and bot.calls > 1
    stop.set()
    assert await asyncio.wait_for(task, 5) is False


async def test_the_stop_ends_a_call_telegram_does_not_answer() -> None:
    bot = Unreachable(failures=0, hang=True)
    stop = asyncio.Event()
    task = asyncio.create_task(setting(bot, stop))
    await asyncio.sleep(0.1)
    stop.set()
    assert await asyncio.wait_for(task, 5) is False
    assert bot.calls == 1


async def test_a_refusal_ends_the_start_in_one_line_at_once() -> None:
    bot = Unreachable(failures=0, refuse=True)
    with pytest.raises(StartupError, match=f"WEBHOOK_URL {URL} is refused by Telegram .setWebhook.: Bad Request"):
        await setting(bot, asyncio.Event())
    assert bot.calls == 1
