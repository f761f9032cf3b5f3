"""The database file deleted or replaced under the running bot: no money moves, users are told the
bot is under maintenance, the admins once, and /readyz says 503."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.runtime.logs import BriefErrors
from storage import users
from storage.db import Database, DatabaseGone
from tests.conftest import bot_process, free_port
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:TEST-TOKEN"
ADMIN, USER = 1, 4242
MAINTENANCE = "under maintenance"


def count(path: Path, table: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def move_aside(database: Path, to: Path) -> None:
    """``mv`` the database and its WAL files elsewhere: gone from its path, still whole (to inspect)."""
    for suffix in ("", "-wal", "-shm"):
        source = database.with_name(database.name + suffix)
        if source.exists():
            source.rename(to.with_name(to.name + suffix))


# -- the Database itself -----------------------------------------------------------------------


@asynccontextmanager
async def opened(path: Path | str) -> AsyncIterator[Database]:
    """The database at ``path``, open for the block and closed after it, whatever happens there."""
    db = await Database.open(path)
    try:
        yield db
    finally:
        await db.close()


async def add(db: Database, user_id: int) -> None:
    async with db.transaction() as conn:
        await users.upsert(conn, user_id, None, "Test", "en")


async def test_a_deleted_file_stops_every_transaction_and_read(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with opened(path) as db:
        await add(db, 1)
        assert db.healthy and db.check()
        move_aside(path, tmp_path / "moved.sqlite3")
        with pytest.raises(DatabaseGone) as info:
            await add(db, 2)
        assert not db.healthy and "deleted" in (db.problem or "") and str(path) in info.value.problem
        with pytest.raises(DatabaseGone):
            async with db.read():
                pass
    assert count(tmp_path / "moved.sqlite3", "users") == 1  # the second user landed nowhere
    assert not path.exists()


async def test_a_file_replaced_under_it_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with opened(path) as db:
        replacement = tmp_path / "restored.sqlite3"
        sqlite3.connect(replacement).close()
        replacement.rename(path)  # a restore moved over the live file
        assert not db.check() and "replaced" in (db.problem or "")
        with pytest.raises(DatabaseGone):
            await add(db, 1)


async def test_a_deleted_wal_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with opened(path) as db:
        path.with_name("bot.sqlite3-wal").unlink()  # the latest commits live there until a checkpoint
        assert not db.check() and "-wal" in (db.problem or "")


async def test_a_transaction_running_when_the_file_goes_is_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with opened(path) as db:
        with pytest.raises(DatabaseGone):
            async with db.transaction() as conn:
                await users.upsert(conn, 1, None, "Test", "en")
                move_aside(path, tmp_path / "moved.sqlite3")
    assert count(tmp_path / "moved.sqlite3", "users") == 0


async def test_an_open_that_fails_leaves_no_thread_behind(tmp_path: Path) -> None:
    """The hang at start: aiosqlite's thread, never stopped, kept the process alive for ever."""
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 100)
    before = threading.active_count()
    with pytest.raises(sqlite3.DatabaseError):
        await Database.open(path)
    for _ in range(100):
        if threading.active_count() == before:
            break
        await asyncio.sleep(0.05)
    assert threading.active_count() == before


async def test_a_memory_database_is_always_healthy() -> None:
    async with opened(":memory:") as db:
        await add(db, 1)
        assert db.check() and db.healthy


def test_its_log_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test_database_gone")
    caplog.handler.addFilter(BriefErrors())
    try:
        raise DatabaseGone("/x/bot.sqlite3 was deleted while the bot ran")
    except DatabaseGone:
        logger.exception("Job %s raised an exception", "poll")
    (record,) = caplog.records
    assert record.exc_info is None and record.getMessage() == (
        "Job poll raised an exception (DatabaseGone: /x/bot.sqlite3 was deleted while the bot ran)"
    )


# -- the running bot ---------------------------------------------------------------------------


async def readyz(port: int) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/readyz") as response:
        return response.status, await response.json()


def last_text(fake: FakeTelegram, user_id: int) -> str:
    messages = fake.messages_to(user_id)
    return messages[-1].get("text", "") if messages else ""


def alerts(fake: FakeTelegram) -> list[str]:
    return [m.get("text", "") for m in fake.messages_to(ADMIN) if "database is unusable" in m.get("text", "")]


async def tap(fake: FakeTelegram, label: str) -> str:
    """Press the newest button labelled ``label``; returns the query id once it was answered."""
    message_id, data = fake.find_button(USER, label)
    query_id = fake.press(USER, data, message_id=message_id)
    await fake.wait_for(lambda: query_id in fake.answered_callbacks(), timeout=30)
    return query_id


async def test_the_bot_notices_its_database_deleted_and_takes_no_money(fake: FakeTelegram, tmp_path: Path) -> None:
    database, moved = tmp_path / "data" / "bot.sqlite3", tmp_path / "moved.sqlite3"
    port = free_port()
    bot = bot_process(
        fake,
        tmp_path,
        DATABASE_PATH=str(database),
        ADMIN_IDS=str(ADMIN),
        DEMO_SMS_DELAY_SECONDS="600",
        POLL_INTERVAL_SECONDS="0.5",
        WEB_PORT=str(port),
    )
    try:
        await bot.start()
        await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=60)
        fake.send_message(USER, "/start")
        await fake.wait_for(lambda: "Welcome" in last_text(fake, USER), timeout=30)
        fake.send_message(ADMIN, f"/credit {USER} 5.00 test top-up")
        await fake.wait_for(lambda: "Credited" in last_text(fake, ADMIN), timeout=30)
        await tap(fake, "Buy a number")
        await tap(fake, "United States")
        await tap(fake, "WhatsApp")  # the confirmation screen, Confirm on it
        assert (await readyz(port))[0] == 200
        ledger, orders = count(database, "ledger"), count(database, "orders")
        assert (ledger, orders) == (1, 0)

        move_aside(database, moved)  # the operator's `rm`, as far as the bot's path is concerned

        confirm = await tap(fake, "Confirm")
        answer = next(c for c in fake.calls_of("answerCallbackQuery") if c.params["callback_query_id"] == confirm)
        assert MAINTENANCE in answer.params.get("text", ""), answer.params
        sent = len(fake.messages_to(USER))
        fake.send_message(USER, "/buy")
        await fake.wait_for(lambda: len(fake.messages_to(USER)) > sent, timeout=30)
        assert MAINTENANCE in last_text(fake, USER)

        await fake.wait_for(lambda: alerts(fake), timeout=30)
        status, body = await readyz(port)
        assert status == 503 and body["checks"]["database"]["ok"] is False, body
        assert "deleted" in body["checks"]["database"]["detail"] and body["checks"]["telegram"]["ok"] is True

        checkout = fake.pre_checkout(USER, "stars:50", 50)  # no Stars taken for a payment it cannot store
        await fake.wait_for(lambda: checkout in fake.pre_checkout_answers, timeout=30)
        assert fake.pre_checkout_answers[checkout]["ok"] is False
        assert MAINTENANCE in (fake.pre_checkout_answers[checkout]["error_message"] or "")

        fake.send_message(USER, "/balance")  # more traffic and a few watchdog rounds: still one alert
        await fake.wait_for(lambda: MAINTENANCE in last_text(fake, USER) and len(fake.messages_to(USER)) > sent + 1)
        await asyncio.sleep(2.5)
    finally:
        await bot.stop()
    assert len(alerts(fake)) == 1 and str(database) in alerts(fake)[0]
    assert (count(moved, "ledger"), count(moved, "orders")) == (ledger, orders)  # nothing landed in the old file
    assert not database.exists() or count(database, "ledger") == 0  # nor in a new one
    log = bot.output()
    assert "database unusable" in log and "Traceback" not in log and TOKEN not in log, log[-3000:]
    assert "Paused scheduler job processing" in log  # no job runs into the missing database again
