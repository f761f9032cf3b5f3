"""LOG_FORMAT=json: the formatter, the context it reads (update, user, order), secrets masked in it, and the
real bot writing only JSON lines that name the update and user they were logged for."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.runtime.log_context import bind, binds_order, current
from bot.runtime.logs import BriefErrors, JsonFormatter, SecretFilter
from tests.botproc import ROOT, BotProcess
from tests.fakes.telegram import FakeTelegram
from tests.test_e2e import ADMIN, TOKEN, USER, buy_whatsapp_us, last_text, tap, text_of

API_KEY = "sk-upstream-0123456789"
WEBHOOK_SECRET = "whsec-abcdef123456"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, list[str]]]:
    """A logger whose records go through the bot's filters, in their order, to a JSON-formatting handler."""
    lines: list[str] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = ListHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(BriefErrors())
    handler.addFilter(SecretFilter([TOKEN, API_KEY, WEBHOOK_SECRET]))
    logger = logging.getLogger("test_json_logs.captured")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, lines
    logger.removeHandler(handler)


def parsed(lines: list[str]) -> list[dict[str, object]]:
    assert all("\n" not in line for line in lines), lines  # one object per line, tracebacks included
    return [json.loads(line) for line in lines]


def test_a_line_has_time_level_logger_message_and_no_context_outside_one(
    captured: tuple[logging.Logger, list[str]],
) -> None:
    logger, lines = captured
    before = datetime.now(UTC)
    logger.warning("order %d: %s", 7, "late")
    (line,) = parsed(lines)
    assert set(line) == {"time", "level", "logger", "message"}, line
    assert line["level"] == "WARNING" and line["logger"] == "test_json_logs.captured"
    assert line["message"] == "order 7: late"
    stamp = datetime.fromisoformat(str(line["time"]))
    assert stamp.utcoffset() == timedelta(0) and before - timedelta(seconds=1) <= stamp <= datetime.now(UTC)


def test_bound_fields_are_on_the_line_and_gone_after(captured: tuple[logging.Logger, list[str]]) -> None:
    logger, lines = captured
    with bind(update_id=100, user_id=42):
        logger.info("in the update")
        with bind(order_id=9):
            logger.info("working on the order")
        with bind(user_id=None):
            logger.info("no user here")
    logger.info("after")
    first, second, third, after = parsed(lines)
    assert (first["update_id"], first["user_id"]) == (100, 42) and "order_id" not in first
    assert (second["update_id"], second["user_id"], second["order_id"]) == (100, 42, 9)
    assert third["update_id"] == 100 and "user_id" not in third
    assert not {"update_id", "user_id", "order_id"} & set(after)
    assert current() == {}
    with pytest.raises(TypeError, match="oder_id"):
        with bind(oder_id=1):  # a typo must not log nothing silently
            pass


def test_an_extra_field_wins_over_the_bound_one(captured: tuple[logging.Logger, list[str]]) -> None:
    logger, lines = captured
    with bind(order_id=1):
        logger.info("about another order", extra={"order_id": 2})
    assert parsed(lines)[0]["order_id"] == 2


@dataclass
class _Order:
    id: int


class _Worker:
    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    @binds_order
    async def work(self, order: _Order, steps: int) -> int:
        for step in range(steps):
            self.logger.info("order %d step %d", order.id, step)
            await asyncio.sleep(0)  # the other order's task runs in between
        return order.id


async def test_concurrent_orders_keep_their_own_id(captured: tuple[logging.Logger, list[str]]) -> None:
    logger, lines = captured
    worker = _Worker(logger)
    with bind(update_id=5):
        assert await asyncio.gather(worker.work(_Order(1), 3), worker.work(_Order(2), 3)) == [1, 2]
    rows = parsed(lines)
    assert len(rows) == 6 and {r["order_id"] for r in rows} == {1, 2}
    assert all(str(r["message"]).startswith(f"order {r['order_id']} ") and r["update_id"] == 5 for r in rows)
    assert current() == {}


def test_secrets_are_masked_in_the_message_and_the_traceback(captured: tuple[logging.Logger, list[str]]) -> None:
    logger, lines = captured
    logger.info("token %s key %s secret %s", TOKEN, API_KEY, WEBHOOK_SECRET)
    try:
        raise OSError(f"Can not write request body for http://127.0.0.1/bot{TOKEN}/getUpdates?k={API_KEY}")
    except OSError:
        with bind(update_id=3):
            logger.exception("request failed with %s", WEBHOOK_SECRET)
    text = "\n".join(lines)
    for secret in (TOKEN, "TEST-TOKEN", API_KEY, WEBHOOK_SECRET):
        assert secret not in text, text
    message, failure = parsed(lines)
    assert message["message"] == "token 123456:*** key *** secret ***"
    assert failure["message"] == "request failed with ***" and failure["update_id"] == 3
    traceback = str(failure["traceback"])
    assert traceback.startswith("Traceback") and "OSError: Can not write request body" in traceback
    assert "/bot123456:***/getUpdates?k=***" in traceback


def _run_logging(fmt: str) -> str:
    """``setup_logging`` in a fresh interpreter (the real root handler on stderr): two lines logged, then a crash."""
    script = f"""
import logging
from bot.runtime.log_context import bind
from bot.runtime.logs import setup_logging
setup_logging("INFO", ["{TOKEN}", "{WEBHOOK_SECRET}"], "{fmt}")
with bind(update_id=11, user_id=22):
    logging.getLogger("some.module").info("secret %s here", "{WEBHOOK_SECRET}")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("other").exception("failed for %s", "{TOKEN}")
raise RuntimeError("crashed holding {WEBHOOK_SECRET}")
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr  # the uncaught exception still ends the process
    return done.stderr


def test_setup_logging_json_writes_json_lines_on_stderr_masked() -> None:
    out = _run_logging("json")
    assert TOKEN not in out and WEBHOOK_SECRET not in out, out
    first, second, crash = parsed(out.splitlines())
    assert first["logger"] == "some.module" and first["message"] == "secret *** here"
    assert (first["update_id"], first["user_id"]) == (11, 22)
    assert second["level"] == "ERROR" and second["message"] == "failed for 123456:***"
    assert "ZeroDivisionError" in str(second["traceback"]) and "update_id" not in second
    assert crash["level"] == "CRITICAL" and crash["message"] == "uncaught RuntimeError"  # a crash too is JSON
    assert str(crash["traceback"]).endswith("RuntimeError: crashed holding ***")


def test_text_stays_the_default_format() -> None:
    out = _run_logging("text")
    assert TOKEN not in out and WEBHOOK_SECRET not in out, out
    assert " INFO some.module: secret *** here\n" in out and "{" not in out
    assert " ERROR other: failed for 123456:***\nTraceback" in out
    assert out.endswith("RuntimeError: crashed holding ***\n")  # a crash: the traceback as before, masked


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


async def test_the_bot_logs_json_naming_the_update_user_and_order(fake: FakeTelegram, tmp_path: Path) -> None:
    """The real bot with LOG_FORMAT=json: every line it writes is JSON; the line of /start's handling names
    that update and its user, the purchase's line the Confirm's update, the user and the new order."""
    proc = BotProcess(
        tmp_path / "run",
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=fake.url,
        DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
        ADMIN_IDS=str(ADMIN),
        DEMO_PROVIDER="on",
        DEMO_SMS_DELAY_SECONDS="600",  # no code during the test: the purchase is the last thing it does
        LOG_FORMAT="json",
        USER_UPDATES_PER_SECOND="1000",
        USER_UPDATES_BURST="10000",
    )
    proc.env["LOG_LEVEL"] = "DEBUG"  # the middleware's line of each update's arrival
    await proc.start()
    try:
        await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=60)
        fake.send_message(USER, "/start")
        start_update = fake.last_update_id
        await fake.wait_for(lambda: "Welcome" in last_text(fake, USER), timeout=60)
        fake.send_message(ADMIN, f"/credit {USER} 5.00 test top-up")
        await fake.wait_for(lambda: "Credited" in last_text(fake, ADMIN), timeout=60)
        await buy_whatsapp_us(fake)
        card = await tap(fake, USER, "Confirm")
        confirm_update = fake.last_update_id
        await fake.wait_for(lambda: "Number:" in text_of(fake, USER, card), timeout=60)
    finally:
        assert await proc.stop() == 0
    out = proc.output()
    assert TOKEN not in out and "TEST-TOKEN" not in out
    rows = parsed([line for line in out.splitlines() if line.strip()])
    assert len(rows) > 10 and all({"time", "level", "logger", "message"} <= set(r) for r in rows)
    assert not any("Traceback" in str(r.get("traceback", "")) for r in rows), out[-3000:]
    arrived = [r for r in rows if r["message"] == f"update {start_update} from user {USER}"]
    assert arrived and arrived[0]["update_id"] == start_update and arrived[0]["user_id"] == USER, arrived
    bought = [r for r in rows if "charged" in str(r["message"]) and r["logger"] == "bot.orders.placing"]
    assert len(bought) == 1, bought
    assert bought[0]["update_id"] == confirm_update and bought[0]["user_id"] == USER
    assert str(bought[0]["message"]).startswith(f"order {bought[0]['order_id']}: whatsapp in US charged")
    # outside any update (the start-up, the poll job's runs) a line names none
    assert any(r["message"].startswith("bot started") and "update_id" not in r for r in rows)  # type: ignore[union-attr]
