"""The broadcast service against the fake Bot API: exactly once, 429 pauses, blocked users, cancel, resume.

Runs on both backends (``postgres`` marker); two replicas sharing one PostgreSQL: test_broadcast_replicas.py.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.utils.i18n import I18n
from pydantic import ValidationError

from bot.operator.broadcasts import Broadcasts
from bot.settings import Settings
from handlers.admin import broadcast_keyboards
from storage import broadcasts as q
from storage.backends import Store
from storage.timestamps import iso, stored_now
from tests.conftest import TOKEN, add_user
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.postgres

ADMIN = 1
LOCALES = Path(__file__).resolve().parent.parent / "locales"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
    yield bot
    await bot.session.close()


def service(bot: Bot, db: Store, rate: float = 2000, senders: int = 8) -> Broadcasts:
    i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
    return Broadcasts(bot, db, i18n, broadcast_keyboards, rate, senders=senders, progress_every=0.2)


async def seed(db: Store, ids: range, **columns: Any) -> None:
    names = ", ".join(["id", *columns])
    marks = ", ".join("?" * (len(columns) + 1))
    async with db.transaction() as conn:
        await conn.executemany(f"INSERT INTO users ({names}) VALUES ({marks})", [(i, *columns.values()) for i in ids])


async def start(svc: Broadcasts, fake: FakeTelegram, bot: Bot, audience: str = "all", **kw: Any) -> int:
    source = fake.send_message(ADMIN, "📣 Big news")
    screen = await bot.send_message(ADMIN, "Send it?")
    broadcast_id, _n, created = await svc.start(
        admin_id=ADMIN, from_chat_id=ADMIN, message_id=source, button=kw.get("button"), audience=audience,
        progress=(ADMIN, screen.message_id),
    )  # fmt: skip
    assert created
    return broadcast_id


async def statuses(db: Store, broadcast_id: int) -> dict[int, tuple[str, str | None]]:
    async with (
        db.read() as conn,
        conn.execute(
            "SELECT user_id, status, error FROM broadcast_recipients WHERE broadcast_id = ?", (broadcast_id,)
        ) as cur,
    ):
        return {r[0]: (r[1], r[2]) for r in await cur.fetchall()}


def record_calls(fake: FakeTelegram) -> list[tuple[float, int, str]]:
    """(time, chat id, "ok" or the error) of every copyMessage, in order."""
    log: list[tuple[float, int, str]] = []
    call = fake._call

    async def recording(method: str, params: dict[str, Any]) -> Any:
        if method != "copymessage":
            return await call(method, params)
        try:
            result = await call(method, params)
        except Exception as exc:
            log.append((asyncio.get_running_loop().time(), params["chat_id"], str(exc)))
            raise
        log.append((asyncio.get_running_loop().time(), params["chat_id"], "ok"))
        return result

    fake._call = recording  # type: ignore[method-assign]
    return log


async def test_500_users_each_reached_once_through_429s_and_blocks(db: Store, fake: FakeTelegram, bot: Bot) -> None:
    await seed(db, range(1000, 1500))
    await seed(db, range(2000, 2005), is_blocked=1)  # blocked earlier: not recipients
    blocked = set(range(1000, 1500, 50))
    for user_id in blocked:
        fake.block_user(user_id)
    fake.inject_error("copyMessage", error_code=400, description="Bad Request: chat not found", chat_id=1007)
    fake.inject_error("copyMessage", error_code=400, description="Bad Request: message is too long", chat_id=1009)
    fake.inject_error("copyMessage", error_code=429, description="Too Many Requests: retry after 1", retry_after=1)
    log = record_calls(fake)
    svc = service(bot, db)
    broadcast_id = await start(svc, fake, bot, button=("Open", "https://example.org/x"))
    fake.inject_error("copyMessage", error_code=429, description="Too Many Requests: retry after 1", retry_after=1)
    await asyncio.wait_for(svc.wait(broadcast_id), 60)

    ok = Counter(chat for _t, chat, outcome in log if outcome == "ok")
    assert set(ok) == set(range(1000, 1500)) - blocked - {1007, 1009}
    assert set(ok.values()) == {1}  # nobody twice
    assert all(len(fake.messages_to(u)) == 1 for u in ok)
    copy = fake.messages_to(1001)[0]
    assert (
        copy["text"] == "📣 Big news"
        and copy["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://example.org/x"
    )
    assert not any(chat >= 2000 for _t, chat, _o in log)
    # every 429 paused all senders for retry_after: no copy went out in the second after one
    limited = [t for t, _c, outcome in log if "retry after" in outcome]
    assert len(limited) == 2
    for t in limited:
        assert not [x for x, _c, o in log if o == "ok" and t + 0.1 < x < t + 0.95]

    rows = await statuses(db, broadcast_id)
    assert len(rows) == 500
    unreachable = {u for u, (s, _e) in rows.items() if s == "unreachable"}
    assert unreachable == blocked | {1007}
    assert rows[1009] == ("failed", "Bad Request: message is too long")
    async with db.read() as conn:
        counts = await q.counts(conn, broadcast_id)
        assert (await q.get(conn, broadcast_id)).status == "done"  # type: ignore[union-attr]
        assert await q.audience_size(conn, "all") == 500 - len(unreachable)  # skipped from now on
    assert (counts.sent, counts.unreachable, counts.failed, counts.pending) == (488, 11, 1, 0)
    assert counts.sent + counts.unreachable + counts.failed == 500
    report = fake.messages_to(ADMIN)[-1]["text"]
    assert "finished" in report and "Sent: 488" in report and "Unreachable (blocked the bot): 11" in report
    assert "Failed: 1" in report


async def test_cancel_stops_midway(db: Store, fake: FakeTelegram, bot: Bot) -> None:
    await seed(db, range(1000, 1300))
    svc = service(bot, db, rate=100, senders=2)
    broadcast_id = await start(svc, fake, bot)
    progress_id = fake.messages_to(ADMIN)[-1]["message_id"]
    again = await svc.start(
        admin_id=ADMIN, from_chat_id=ADMIN, message_id=1, button=None, audience="all", progress=(ADMIN, progress_id)
    )
    assert again == (broadcast_id, 300, False)  # Confirm tapped twice: one broadcast
    await fake.wait_for(lambda: "Remaining" in fake.messages_to(ADMIN)[-1].get("text", ""))
    assert "Cancel" in str(fake.messages_to(ADMIN)[-1]["reply_markup"])
    await fake.wait_for(lambda: len(fake.calls_of("copyMessage")) >= 40)
    assert await svc.cancel(broadcast_id, ADMIN)
    await asyncio.wait_for(svc.wait(broadcast_id), 10)
    sent = len(fake.calls_of("copyMessage"))
    await asyncio.sleep(0.3)
    assert len(fake.calls_of("copyMessage")) == sent < 150
    rows = await statuses(db, broadcast_id)
    assert Counter(s for s, _e in rows.values()) == {"sent": sent, "pending": 300 - sent}
    final = next(m for m in fake.messages_to(ADMIN) if m["message_id"] == progress_id)
    assert "was cancelled" in final["text"] and f"Not sent: {300 - sent}" in final["text"]
    assert "reply_markup" not in final  # no Cancel button any more
    assert not await svc.cancel(broadcast_id, ADMIN)


async def test_resume_never_resends_interrupted(db: Store, fake: FakeTelegram, bot: Bot) -> None:
    await seed(db, range(1000, 1010))
    source = fake.send_message(ADMIN, "news")
    async with db.transaction() as conn:  # sent by a process that crashed within its lease
        broadcast_id, _n = await q.create(
            conn, admin_id=ADMIN, from_chat_id=ADMIN, message_id=source, button=None, audience="all",
            progress=(1, 99), lease=("crashed", "2999-01-01T00:00:00.000000Z"),
        )  # fmt: skip
        first = await q.claim(conn, broadcast_id, "crashed")
        assert first == 1000 and await q.claim(conn, broadcast_id, "crashed", first) == 1001
        await q.finish(conn, broadcast_id, 1000, "sent")  # 1000 done, 1001 caught in 'sending' by a crash
    svc = service(bot, db)
    if db.dialect == "postgresql":  # replicas: its lease must run out first (test_broadcast_replicas.py)
        async with db.transaction() as conn:
            ended = iso(datetime.now(UTC) - timedelta(seconds=1))
            await conn.execute("UPDATE broadcasts SET lease_until = ? WHERE id = ?", (ended, broadcast_id))
    assert await svc.resume() == [broadcast_id]
    await asyncio.wait_for(svc.wait(broadcast_id), 10)
    rows = await statuses(db, broadcast_id)
    assert rows[1001] == ("failed", "interrupted")
    assert {u for u, (s, _e) in rows.items() if s == "sent"} == set(range(1000, 1010)) - {1001}
    assert {c.params["chat_id"] for c in fake.calls_of("copyMessage")} == set(range(1002, 1010))
    assert await svc.resume() == []  # done: nothing left to resume


async def test_audience_filters(db: Store, bot: Bot) -> None:
    await seed(db, range(1, 4))  # seen now
    await seed(db, range(10, 13), last_seen_at="2000-01-01T00:00:00.000Z")
    await seed(db, range(20, 22), last_seen_at="2000-01-01T00:00:00.000Z", is_blocked=1)
    await add_user(db, 30, balance=500)
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE users SET last_seen_at = ? WHERE id = 30", (stored_now(datetime.now(UTC) - timedelta(days=20)),)
        )
        for n, (user_id, status) in enumerate([(1, "completed"), (10, "code_received"), (2, "cancelled")]):
            await conn.execute(
                "INSERT INTO orders (user_id, request_key, status, provider, country, service, price, expires_at)"
                " VALUES (?, ?, ?, 'demo', 'US', 'wa', 59, '2100-01-01')",
                (user_id, f"k{n}", status),
            )
    svc = service(bot, db)
    sizes = {a: await svc.audience_size(a) for a in ("all", "active:7", "active:30", "balance", "buyers")}
    assert sizes == {"all": 7, "active:7": 3, "active:30": 4, "balance": 1, "buyers": 2}
    async with db.transaction() as conn:
        bid, n = await q.create(
            conn, admin_id=ADMIN, from_chat_id=1, message_id=1, button=None, audience="buyers", progress=(1, 1)
        )
    assert n == 2 and set(await statuses(db, bid)) == {1, 10}
    async with db.transaction() as conn:  # a banned user gets nothing from the bot, broadcasts included
        await conn.execute("UPDATE users SET is_banned = 1 WHERE id = 1")
    assert await svc.audience_size("all") == 6 and await svc.audience_size("buyers") == 1
    with pytest.raises(ValueError):
        q.audience_filter("active:x")


def test_rate_is_capped() -> None:
    assert Settings(_env_file=None, bot_token=TOKEN).broadcast_rate == 25  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Settings(_env_file=None, bot_token=TOKEN, broadcast_rate=31)  # type: ignore[call-arg]
