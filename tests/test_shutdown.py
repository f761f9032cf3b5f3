"""SIGTERM, end to end, in polling and in webhook mode: the bot stops taking updates at once, lets a
purchase under way finish (the number sold, the charge in the ledger, the card sent) within
SHUTDOWN_GRACE_SECONDS, and exits 0; with nothing under way it exits promptly. The upstream is
SimSmsBox's fake, served on the loopback, slowed down on purchases only."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.botproc import BotProcess
from tests.conftest import bot_process, open_bot_db
from tests.fakes.serve import serve
from tests.fakes.simsmsbox import FakeSimSmsBox
from tests.fakes.telegram import FakeTelegram
from tests.test_e2e import ADMIN, TOKEN, USER, last_text, tap, text_of
from tests.test_e2e_webhook import SECRET, free_port

KEY = "psk_e2e_shutdown"
GRACE = 30  # seconds: far more than the slow sale needs, so only a bot that waits for it passes
SALE_SECONDS = 4.0

StartBot = Callable[..., Awaitable[BotProcess]]
pytestmark = pytest.mark.postgres  # a replica's drain must leave its purchase whole on PostgreSQL too


class SlowSales(FakeSimSmsBox):
    """Answers a purchase only after :attr:`sale_delay` seconds; counts purchases begun."""

    def __init__(self) -> None:
        super().__init__(api_key=KEY)
        self.sale_delay = 0.0
        self.sales_begun = 0

    async def _handle(self, request: httpx.Request) -> Any:
        if request.url.path.endswith("/orders/purchase"):
            self.sales_begun += 1
            await asyncio.sleep(self.sale_delay)
        return await super()._handle(request)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN, local=True) as server:  # --local: webhook mode posts to plain http
        yield server


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[SlowSales, str]]:
    box = SlowSales()
    async with serve(box) as url:
        yield box, url


@pytest.fixture
async def start_bot(fake: FakeTelegram, upstream: tuple[SlowSales, str], tmp_path: Path) -> AsyncIterator[StartBot]:
    procs: list[BotProcess] = []

    async def start(mode: str, **overrides: str) -> BotProcess:
        env = {
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": fake.url,
            "DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
            "ADMIN_IDS": str(ADMIN),
            "DEMO_PROVIDER": "off",
            "SIMSMSBOX_API_KEY": KEY,
            "SIMSMSBOX_BASE_URL": upstream[1],
            "POLL_INTERVAL_SECONDS": "0.5",
            "MARKUP_PERCENT": "30",
            "SHUTDOWN_GRACE_SECONDS": str(GRACE),
            "USER_UPDATES_PER_SECOND": "1000",
            "USER_UPDATES_BURST": "10000",
        }
        env.update(overrides)
        if mode == "webhook":
            port = free_port()
            env.update(WEBHOOK_URL=f"http://127.0.0.1:{port}/hook", WEB_PORT=str(port), WEBHOOK_SECRET=SECRET)
        proc = bot_process(fake, tmp_path, **env)  # on the test's backend
        procs.append(proc)
        await proc.start()
        if mode == "webhook":
            await fake.wait_for(lambda: fake.webhook.url, timeout=60)
        else:
            await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=60)
        return proc

    yield start
    for proc in procs:
        await proc.stop(signal.SIGKILL)
        assert "Traceback" not in proc.output(), proc.output()[-3000:]
        assert KEY not in proc.output() and TOKEN not in proc.output() and SECRET not in proc.output()


async def sigterm(proc: BotProcess) -> float:
    """Send SIGTERM and wait (bounded) for the exit: the seconds it took; the status must be 0."""
    assert proc.proc is not None
    loop = asyncio.get_running_loop()
    started = loop.time()
    proc.proc.send_signal(signal.SIGTERM)
    status = await asyncio.wait_for(proc.proc.wait(), GRACE + 30)
    assert status == 0, proc.output()[-3000:]
    return loop.time() - started


async def query(tmp_path: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows of the bot's database, SQLite or PostgreSQL as the test's backend gave it."""
    db = await open_bot_db(tmp_path)
    try:
        async with db.read() as conn:
            return [tuple(row) for row in await conn.execute_fetchall(sql, args)]
    finally:
        await db.close()


async def to_confirm(fake: FakeTelegram) -> None:
    """A user with 10.00 USD on the confirmation screen of a WhatsApp number in the United States."""
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER), timeout=30)
    fake.send_message(ADMIN, f"/credit {USER} 10.00 test")
    await fake.wait_for(lambda: "Credited" in last_text(fake, ADMIN), timeout=30)
    fake.send_message(USER, "/buy")
    await fake.wait_for(lambda: "country" in last_text(fake, USER), timeout=30)
    await tap(fake, USER, "United States")
    screen = await tap(fake, USER, "WhatsApp")
    assert "Price: 1.95 USD" in text_of(fake, USER, screen)


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_purchase_under_way_finishes_before_the_exit(
    mode: str, fake: FakeTelegram, upstream: tuple[SlowSales, str], start_bot: StartBot, tmp_path: Path
) -> None:
    box, _url = upstream
    proc = await start_bot(mode)
    await to_confirm(fake)
    box.sale_delay = SALE_SECONDS
    message_id, data = fake.find_button(USER, "Confirm")
    fake.press(USER, data, message_id=message_id)
    await fake.wait_for(lambda: box.sales_begun == 1, timeout=30)
    stopping = asyncio.ensure_future(sigterm(proc))
    # the drain says it waits: the stop has begun (polling ended, the webhook refuses), an update now is not taken
    await fake.wait_for(lambda: "waiting up to" in proc.output(), timeout=30)
    sent = len(fake.messages_to(USER))
    fake.send_message(USER, "/balance")
    late_update = fake.last_update_id
    seconds = await stopping

    assert seconds < GRACE, "the stop waited for the purchase, not for the whole grace period"
    card = fake.messages_to(USER)[-1]
    assert "Waiting for the SMS" in card.get("text", ""), card
    assert not any("Your balance" in m.get("text", "") for m in fake.messages_to(USER)[sent:])
    assert late_update in [u["update_id"] for u in fake.take_updates()]  # left with Telegram for the next start
    (order,) = await query(tmp_path, "SELECT id, status FROM orders WHERE user_id = ?", USER)
    assert order[1] == "active"
    assert await query(tmp_path, "SELECT amount FROM ledger WHERE kind = 'purchase' AND order_id = ?", order[0]) == [
        (-195,)
    ]
    assert "waiting up to" in proc.output() and "cut off" not in proc.output()
    if mode == "webhook":  # offered, and refused while the purchase finished
        assert any(status == 503 for update, status in fake.webhook.posts if update == late_update)


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_with_nothing_under_way_the_stop_is_prompt(mode: str, fake: FakeTelegram, start_bot: StartBot) -> None:
    proc = await start_bot(mode)
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER), timeout=30)
    assert await sigterm(proc) < 10
    assert "waiting up to" not in proc.output()


async def test_a_purchase_cut_off_by_the_grace_period_is_settled_at_the_next_start(
    fake: FakeTelegram, upstream: tuple[SlowSales, str], start_bot: StartBot, tmp_path: Path
) -> None:
    box, _url = upstream
    proc = await start_bot("polling", SHUTDOWN_GRACE_SECONDS="1")
    await to_confirm(fake)
    box.sale_delay = 8.0
    message_id, data = fake.find_button(USER, "Confirm")
    fake.press(USER, data, message_id=message_id)
    await fake.wait_for(lambda: box.sales_begun == 1, timeout=30)
    assert await sigterm(proc) < 6  # the grace period, not the sale
    assert "1 updates were still being handled after the grace period: cut off" in proc.output()
    (order,) = await query(tmp_path, "SELECT id, status FROM orders WHERE user_id = ?", USER)
    assert order[1] == "pending"  # charged, the sale's outcome unknown to the bot

    box.sale_delay = 0.0
    await start_bot("polling", PENDING_GRACE_SECONDS="1")

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:  # the restarted bot settles it (the order's status as it polls the upstream)
        ((status,),) = await query(tmp_path, "SELECT status FROM orders WHERE id = ?", order[0])
        if status not in ("pending", "unknown"):
            break
        assert loop.time() < deadline, f"order still {status} 60 s after the restart"
        await asyncio.sleep(0.2)
    ((net,),) = await query(tmp_path, "SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE order_id = ?", order[0])
    assert (status, net) in (("active", -195), ("failed", 0)), (status, net)
