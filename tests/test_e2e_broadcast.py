"""End to end: /broadcast to 300 users by the real bot process, SIGKILLed mid-way and restarted.

On both backends. On PostgreSQL the restarted process is another replica to the database: the dead one's
lease must run out first (LEASE_SECONDS), then its periodic look takes the broadcast over.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.botproc import BotProcess
from tests.conftest import bot_process, open_bot_db
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.postgres

ADMIN = 1
TOKEN = "123456:TEST-TOKEN"
USERS = range(5000, 5300)
BLOCKED = {5007, 5150}  # blocked the bot: Telegram answers 403
TEXT = "🎉 Sale today: 20% off every number"

StartBot = Callable[..., Awaitable[BotProcess]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def start_bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[StartBot]:
    procs: list[BotProcess] = []

    async def start() -> BotProcess:
        env = {
            "ADMIN_IDS": str(ADMIN),
            "BROADCAST_RATE": "30",
            "LEASE_SECONDS": "3",  # PostgreSQL: the killed process's lease runs out soon after
            "USER_UPDATES_PER_SECOND": "1000",  # the admin's wizard taps fast; flood control has its own tests
            "USER_UPDATES_BURST": "10000",
        }
        proc = bot_process(fake, tmp_path, **env)
        procs.append(proc)
        polls_before = len(fake.calls_of("getUpdates"))
        await proc.start()
        await fake.wait_for(lambda: len(fake.calls_of("getUpdates")) > polls_before, timeout=90)
        return proc

    yield start
    for proc in procs:
        await proc.stop()
        assert "Traceback" not in proc.output(), proc.output()[-3000:]


def texts(fake: FakeTelegram) -> list[str]:
    return [m.get("text", "") for m in fake.messages_to(ADMIN)]


def said(fake: FakeTelegram, needle: str) -> bool:
    return any(needle in text for text in texts(fake))


async def tap(fake: FakeTelegram, label: str) -> None:
    message_id, data = fake.find_button(ADMIN, label)
    query_id = fake.press(ADMIN, data, message_id=message_id)
    await fake.wait_for(lambda: query_id in fake.answered_callbacks())


def reached(fake: FakeTelegram) -> int:
    return sum(1 for user_id in USERS if fake.messages_to(user_id))


async def test_broadcast_survives_sigkill_without_duplicates(
    fake: FakeTelegram, start_bot: StartBot, tmp_path: Path
) -> None:
    db = await open_bot_db(tmp_path)  # the bot's own schema, then users as if long known
    async with db.transaction() as conn:
        await conn.executemany("INSERT INTO users (id) VALUES (?)", [(i,) for i in USERS])
        await conn.executemany("INSERT INTO users (id, is_blocked) VALUES (?, 1)", [(6000,), (6001,)])
    await db.close()
    for user_id in BLOCKED:
        fake.block_user(user_id)
    fake.latency = 0.05
    first = await start_bot()

    fake.send_message(ADMIN, "/broadcast")
    await fake.wait_for(lambda: said(fake, "Send me the message"))
    fake.send_message(ADMIN, TEXT)
    await fake.wait_for(lambda: said(fake, "link button"))
    fake.send_message(ADMIN, "not a button")
    await fake.wait_for(lambda: said(fake, "That is not"))
    fake.send_message(ADMIN, "Open the shop | https://example.org/shop")
    await fake.wait_for(lambda: said(fake, "Who receives it?"))
    await tap(fake, "All users")
    await fake.wait_for(lambda: said(fake, "Send it?"))
    preview = [m for m in fake.messages_to(ADMIN) if m.get("text") == TEXT]
    assert len(preview) == 1 and preview[0]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Open the shop"
    assert said(fake, "301 recipients")  # 300 seeded + the admin; users who blocked the bot before are left out
    await tap(fake, "Confirm and send")
    await fake.wait_for(lambda: said(fake, "Remaining:"), timeout=15)
    await fake.wait_for(lambda: reached(fake) >= 60, timeout=30)
    await first.stop(signal.SIGKILL)
    before = reached(fake)
    assert before < 250, "the crash should come mid-broadcast"

    await start_bot()
    reports = await fake.wait_for(
        lambda: len(finals := [t for t in texts(fake) if "finished" in t]) == 2 and finals, 120
    )
    assert reports[0] == reports[1]  # the progress message's last state, and the report as a new message
    report = reports[1]

    got = {user_id: len(fake.messages_to(user_id)) for user_id in USERS}
    assert max(got.values()) == 1  # nobody twice
    assert all(got[user_id] == 0 for user_id in BLOCKED)
    assert not [c for c in fake.calls_of("copyMessage") if c.params["chat_id"] in (6000, 6001)]
    db = await open_bot_db(tmp_path)
    async with db.read() as conn:
        async with conn.execute("SELECT user_id, status, error FROM broadcast_recipients") as cur:
            rows = {r[0]: (r[1], r[2]) for r in await cur.fetchall()}
        async with conn.execute("SELECT status FROM broadcasts") as cur:
            assert [r[0] for r in await cur.fetchall()] == ["done"]
    await db.close()
    assert len(rows) == 301 and {s for s, _e in rows.values()} <= {"sent", "unreachable", "failed"}
    assert {u for u, (s, _e) in rows.items() if s == "unreachable"} == BLOCKED
    failed = {u for u, (s, _e) in rows.items() if s == "failed"}
    assert all(rows[u][1] == "interrupted" for u in failed) and len(failed) <= 4  # one per sender at most
    assert all(got[u] == 1 for u in USERS if rows[u][0] == "sent")
    sent = sum(1 for s, _e in rows.values() if s == "sent")
    assert f"Sent: {sent}" in report and "Unreachable (blocked the bot): 2" in report
    assert f"Failed: {len(failed)}" in report and sent + 2 + len(failed) == 301
    assert reached(fake) > before

    fake.send_message(7777, "/broadcast")  # not an admin
    await fake.wait_for(lambda: any("administrators" in m.get("text", "") for m in fake.messages_to(7777)))
