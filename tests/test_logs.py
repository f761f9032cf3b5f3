"""No secret reaches the log: the masking filter alone, then the real bot losing its connection."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime.logs import SecretFilter
from tests.conftest import bot_process
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:TEST-TOKEN"
SECRET_HALF = "TEST-TOKEN"
API_KEY = "sk-upstream-0123456789"
USER = 4242


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, list[str]]]:
    """A logger whose records go, through the filter, to a handler with the bot's format."""
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = ListHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretFilter([TOKEN, API_KEY]))
    logger = logging.getLogger("test_logs.captured")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, lines
    logger.removeHandler(handler)


def test_secrets_in_the_message_and_its_arguments_are_masked(captured: tuple[logging.Logger, list[str]]) -> None:
    logger, lines = captured
    logger.error("Failed to fetch updates - %s: %s", "TelegramNetworkError", f"http://x/bot{TOKEN}/getUpdates")
    logger.debug(f"plain message with {TOKEN} and {API_KEY}")
    logger.warning("the secret half alone: %s, percent-encoded: %s", SECRET_HALF, "123456%3ATEST-TOKEN")
    logger.info("args as a mapping: %(key)s", {"key": API_KEY})
    text = "\n".join(lines)
    assert TOKEN not in text and SECRET_HALF not in text and API_KEY not in text and "%3ATEST" not in text, text
    assert "http://x/bot123456:***/getUpdates" in lines[0]  # still readable: the bot id is public
    assert "***" in lines[1] and "***" in lines[3]
    assert SecretFilter(["abc"]).mask("abc abc") == "abc abc"  # too short to mask: it would garble the log


def test_secrets_in_a_traceback_and_a_chained_cause_are_masked(captured: tuple[logging.Logger, list[str]]) -> None:
    logger, lines = captured
    try:
        try:
            raise OSError(f"Can not write request body for http://127.0.0.1/bot{TOKEN}/getUpdates")
        except OSError as exc:
            raise RuntimeError(f"key {API_KEY} refused") from exc
    except RuntimeError:
        logger.exception("request failed")
    logger.warning("with a stack", stack_info=True, extra={"unused": TOKEN})
    text = "\n".join(lines)
    assert "Traceback" in text and "Can not write request body for http://127.0.0.1/bot123456:***/" in text
    assert TOKEN not in text and SECRET_HALF not in text and API_KEY not in text, text


def test_a_record_that_cannot_be_formatted_is_kept_masked(captured: tuple[logging.Logger, list[str]]) -> None:
    logger, lines = captured
    logger.error("two placeholders %s %s", TOKEN)  # one argument short
    assert lines and TOKEN not in lines[0] and "123456:***" in lines[0]


async def test_a_connection_dropped_mid_request_logs_no_token(fake: FakeTelegram, tmp_path: Path) -> None:
    """aiohttp's error for a broken connection quotes the URL, token included: the log shows it masked."""
    bot = bot_process(fake, tmp_path)
    bot.env["LOG_LEVEL"] = "DEBUG"  # every level goes through the filter
    try:
        await bot.start()
        await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=60)
        polls = len(fake.calls_of("getUpdates"))
        fake.drop_connection("getUpdates")  # the long poll: aiogram logs it at ERROR and polls again
        fake.drop_connection("sendMessage")  # a reply: the error handler logs it with its traceback
        fake.send_message(USER, "/start")
        await fake.wait_for(lambda: len(fake.calls_of("sendMessage")) >= 2, timeout=30)  # the reply, then the apology
        await fake.wait_for(lambda: len(fake.calls_of("getUpdates")) > polls + 2, timeout=30)  # polling went on
        await fake.wait_for(lambda: "Failed to fetch updates" in bot.output(), timeout=30)
    finally:
        await bot.stop()
    log = bot.output()
    assert "Failed to fetch updates" in log and "Traceback" in log  # both failures were logged, in full
    assert "/bot123456:***/getUpdates" in log and "/bot123456:***/sendMessage" in log, log[-3000:]
    assert TOKEN not in log and SECRET_HALF not in log
