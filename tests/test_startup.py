"""Start-up with Telegram unreachable: waited for, with one line per attempt; the health server tells
a supervisor which is which; what retrying cannot fix (a refused token, a port taken) is one line."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram.exceptions import TelegramNetworkError, TelegramNotFound, TelegramUnauthorizedError
from aiogram.methods import GetMe

from bot.runtime.startup import StartupError, wait_for_telegram
from tests.conftest import bot_process, free_port
from tests.fakes.telegram import FakeTelegram
from tests.test_startup_checks import assert_one_line, start_bot

TOKEN = "123456:TEST-TOKEN"


def test_a_bad_web_port_is_one_line(tmp_path: Path) -> None:
    assert_one_line(start_bot(tmp_path, WEB_PORT="http"), "WEB_PORT")


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = start_bot(tmp_path, WEB_PORT=str(port), DEMO_PROVIDER="on")
    assert_one_line(result, "WEB_PORT", f"127.0.0.1:{port}")


async def test_a_token_telegram_refuses_is_one_line(tmp_path: Path) -> None:
    async with FakeTelegram(token="123456:ANOTHER-TOKEN") as fake:  # answers 401 to ours
        result = await asyncio.to_thread(start_bot, tmp_path, TELEGRAM_API_URL=fake.url, DEMO_PROVIDER="on")
    assert_one_line(result, "BOT_TOKEN", "401")


# -- Telegram unreachable at start ---------------------------------------------------------------


class FlakyBot:
    """Stands in for aiogram's Bot in :func:`wait_for_telegram`: ``me()`` fails ``failures`` times."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures, self.calls = failures, 0
        self.error = error or TelegramNetworkError(GetMe(), "HTTP Client says - ClientConnectorError: refused")

    async def me(self) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return type("Me", (), {"username": "test_sms_bot"})()


async def test_getme_is_retried_with_capped_exponential_backoff(caplog: pytest.LogCaptureFixture) -> None:
    flaky = FlakyBot(failures=5)
    caplog.set_level(logging.INFO, "bot.runtime.startup")
    me = await wait_for_telegram(
        flaky,  # type: ignore[arg-type]
        api_url="http://t",
        max_delay=0.04,
        first_delay=0.01,
        stop=asyncio.Event(),
    )
    assert me is not None and flaky.calls == 6
    attempts = [r.getMessage() for r in caplog.records if "not reachable" in r.getMessage()]
    delays = [line.rsplit("next try in ", 1)[1] for line in attempts]
    assert delays == ["0.01 s", "0.02 s", "0.04 s", "0.04 s", "0.04 s"]
    assert all(f"(attempt {n}):" in line for n, line in zip(range(1, 6), attempts, strict=True))
    assert not any(r.exc_info for r in caplog.records)  # one line each, no traceback


@pytest.mark.parametrize(
    ("error", "status"),
    [(TelegramUnauthorizedError(GetMe(), "Unauthorized"), "401"), (TelegramNotFound(GetMe(), "Not Found"), "404")],
)
async def test_a_refused_token_is_not_retried(error: Exception, status: str) -> None:
    flaky = FlakyBot(failures=99, error=error)
    with pytest.raises(StartupError, match=rf"^BOT_TOKEN .*{status}"):
        await wait_for_telegram(flaky, api_url="http://t", max_delay=1, stop=asyncio.Event())  # type: ignore[arg-type]
    assert flaky.calls == 1


async def test_a_stop_while_waiting_ends_the_wait() -> None:
    stop = asyncio.Event()
    waiting = asyncio.create_task(
        wait_for_telegram(FlakyBot(failures=99), api_url="http://t", max_delay=3600, stop=stop)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.05)
    stop.set()
    assert await asyncio.wait_for(waiting, 10) is None


async def get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def test_the_bot_waits_for_an_unreachable_telegram_then_serves(fake: FakeTelegram, tmp_path: Path) -> None:
    await fake.refuse_connections()  # Telegram down: connections refused
    port = free_port()
    bot = bot_process(fake, tmp_path, TELEGRAM_RETRY_MAX_SECONDS="1", WEB_PORT=str(port))
    try:
        await bot.start()
        await fake.wait_for(lambda: bot.output().count("Telegram is not reachable") >= 3, timeout=90)
        assert bot.proc is not None and bot.proc.returncode is None  # still there, waiting
        assert await get(f"http://127.0.0.1:{port}/healthz") == (200, {"ok": True})
        status, body = await get(f"http://127.0.0.1:{port}/readyz")
        assert status == 503 and body["ready"] is False, body
        assert body["checks"]["telegram"]["ok"] is False and body["checks"]["database"]["ok"] is True, body

        await fake.accept_connections()  # Telegram is back
        await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=60)
        status, body = await get(f"http://127.0.0.1:{port}/readyz")
        assert status == 200 and body["ready"] is True, body
        assert list(body["checks"]) == ["telegram", "database", "scheduler", "poll"], body
        assert body["checks"]["telegram"]["detail"].startswith("answered ") and all(
            check["ok"] for check in body["checks"].values()
        ), body
        fake.send_message(4242, "/start")
        await fake.wait_for(lambda: any("Welcome" in m.get("text", "") for m in fake.messages_to(4242)), timeout=30)
    finally:
        assert await bot.stop() == 0
    log = bot.output()
    attempts = [line for line in log.splitlines() if "Telegram is not reachable" in line]
    assert len(attempts) >= 3 and all("attempt" in line and "next try in 1 s" in line for line in attempts[1:])
    assert "Traceback" not in log and TOKEN not in log, log[-3000:]


async def test_a_stop_while_telegram_is_unreachable_is_clean(fake: FakeTelegram, tmp_path: Path) -> None:
    await fake.refuse_connections()
    bot = bot_process(fake, tmp_path, TELEGRAM_RETRY_MAX_SECONDS="1")
    await bot.start()
    await fake.wait_for(lambda: "Telegram is not reachable" in bot.output(), timeout=90)
    assert await bot.stop(signal.SIGTERM, grace=30) == 0  # a supervisor's stop: at once, status 0
    assert "Traceback" not in bot.output(), bot.output()[-3000:]


async def test_telegram_failing_right_after_getme_does_not_stop_the_start(fake: FakeTelegram, tmp_path: Path) -> None:
    fake.inject_error("setMyCommands", error_code=502, description="Bad Gateway")  # the menu is not essential
    bot = bot_process(fake, tmp_path)
    try:
        await bot.start()
        await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=90)
        fake.send_message(4242, "/start")
        await fake.wait_for(lambda: any("Welcome" in m.get("text", "") for m in fake.messages_to(4242)), timeout=30)
        await fake.wait_for(lambda: "" in fake.short_descriptions, timeout=30)  # the refusal skipped only itself
    finally:
        await bot.stop()
    assert "" in fake.descriptions
    assert "bot profile: setMyCommands for default not set" in bot.output() and "Traceback" not in bot.output(), (
        bot.output()[-3000:]
    )
