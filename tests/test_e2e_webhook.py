"""End to end in webhook mode: the real bot process serves WEBHOOK_URL's path, the fake Bot API POSTs the
updates to it (as Telegram does once setWebhook was called), and a user buys a number from the demo
upstream. Requests without the right secret token are refused; polling mode deletes a webhook first."""

from __future__ import annotations

import re
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests import backend
from tests.botproc import BotProcess
from tests.conftest import bot_database_url, open_bot_db
from tests.fakes.telegram import FakeTelegram
from tests.test_e2e import (
    ADMIN,
    TOKEN,
    USER,
    ask_balance,
    buy_whatsapp_us,
    code_messages,
    last_text,
    tap,
    text_of,
    topped_up_user,
)

SECRET = "e2e-Webhook_secret-0123456789"
StartBot = Callable[..., Awaitable[BotProcess]]
pytestmark = pytest.mark.postgres  # a replica behind a webhook runs on PostgreSQL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(fake: FakeTelegram, tmp_path: Path) -> dict[str, str]:
    """The bot's environment, on the test's backend (DATABASE_URL on the PostgreSQL pass)."""
    env = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.url,
        "DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
        "ADMIN_IDS": str(ADMIN),
        "DEMO_PROVIDER": "on",
        "DEMO_SMS_DELAY_SECONDS": "2",
        "POLL_INTERVAL_SECONDS": "0.5",
        "MARKUP_PERCENT": "30",
        "USER_UPDATES_PER_SECOND": "1000",  # scripted users tap at machine speed
        "USER_UPDATES_BURST": "10000",
    }
    if backend.ON_POSTGRES:
        env["DATABASE_URL"] = bot_database_url(tmp_path)
    return env


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A self-hosted Bot API server in --local mode: it posts to the bot's plain http port on the loopback."""
    async with FakeTelegram(token=TOKEN, local=True) as server:
        yield server


@pytest.fixture
async def webhook_bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[BotProcess]:
    """The bot in webhook mode, once it called setWebhook; stopped with SIGTERM, which must exit 0."""
    port = free_port()
    env = base_env(fake, tmp_path)
    env.update(WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram/hook", WEB_PORT=str(port), WEBHOOK_SECRET=SECRET)
    proc = BotProcess(tmp_path / "run", **env)
    await proc.start()
    try:
        await fake.wait_for(lambda: fake.webhook.url, timeout=60)
        yield proc
    finally:
        status = await proc.stop(signal.SIGTERM, grace=60)
    output = proc.output()
    assert status == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert TOKEN not in output and SECRET not in output


async def test_buy_over_the_webhook(fake: FakeTelegram, webhook_bot: BotProcess, tmp_path: Path) -> None:
    (call,) = fake.calls_of("setWebhook")
    port = call.params["url"].split(":")[2].split("/")[0]
    assert call.params["url"] == f"http://127.0.0.1:{port}/telegram/hook"
    assert call.params["secret_token"] == SECRET
    assert {"message", "callback_query", "pre_checkout_query"} <= set(call.params["allowed_updates"])
    assert not call.params.get("drop_pending_updates")

    await topped_up_user(fake)
    await buy_whatsapp_us(fake)
    card_id = await tap(fake, USER, "Confirm")
    await fake.wait_for(lambda: "Number:" in text_of(fake, USER, card_id), timeout=30)
    code_msg = (await fake.wait_for(lambda: code_messages(fake), timeout=30))[0]
    code = re.search(r"code: (\d{6})", code_msg["text"])
    assert code is not None
    await fake.wait_for(lambda: "Code received" in text_of(fake, USER, card_id), timeout=30)
    assert await ask_balance(fake) == "4.41 USD"

    db = await open_bot_db(tmp_path)
    try:
        async with db.read() as conn:
            orders = [
                tuple(r)
                for r in await conn.execute_fetchall("SELECT id, status FROM orders WHERE user_id = ?", (USER,))
            ]
            charges = [
                tuple(r)
                for r in await conn.execute_fetchall("SELECT amount, order_id FROM ledger WHERE kind = 'purchase'")
            ]
    finally:
        await db.close()
    assert len(orders) == 1 and orders[0][1] in ("code_received", "completed")
    assert charges == [(-59, orders[0][0])]
    assert not fake.calls_of("getUpdates")  # every update came over the webhook
    assert fake.webhook.posts and all(status == 200 for _update, status in fake.webhook.posts)


async def test_a_wrong_or_missing_secret_is_refused_and_logged_once(
    fake: FakeTelegram, webhook_bot: BotProcess
) -> None:
    for secret in ("wrong-secret", None, SECRET[:-1]):
        status = await fake.post_to_webhook(fake.message_update(USER, "/start"), secret=secret)
        assert status == 401, secret
    fake.send_message(USER, "/start")  # through Telegram's queue, with the right secret
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER), timeout=30)
    assert len(fake.messages_to(USER)) == 1  # none of the refused /start was handled

    assert await webhook_bot.stop(signal.SIGTERM, grace=60) == 0
    output = webhook_bot.output()
    assert output.count("refused (401)") == 1, output[-3000:]
    assert "webhook refused 3 requests" in output
    assert "wrong-secret" not in output and SECRET[:-1] not in output


async def test_a_webhook_telegram_refuses_stops_the_start_in_one_line(fake: FakeTelegram, tmp_path: Path) -> None:
    refusal = "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
    fake.inject_error("setWebhook", error_code=400, description=refusal)
    port = free_port()
    env = base_env(fake, tmp_path)
    env.update(WEBHOOK_URL=f"http://127.0.0.1:{port}/hook", WEB_PORT=str(port), WEBHOOK_SECRET=SECRET)
    proc = BotProcess(tmp_path / "run", **env)
    await proc.start()
    assert proc.proc is not None
    status = await proc.proc.wait()
    output = proc.output()
    assert status == 2, output[-3000:]
    assert "Traceback" not in output and SECRET not in output
    line = output.strip().splitlines()[-1]
    assert line.startswith(f"WEBHOOK_URL http://127.0.0.1:{port}/hook is refused by Telegram"), line
    assert "ports 80, 88, 443 or 8443" in line


async def test_polling_deletes_the_webhook_first_and_keeps_pending_updates(fake: FakeTelegram, tmp_path: Path) -> None:
    fake.webhook.set({"url": f"http://127.0.0.1:{free_port()}/gone"})  # left by an earlier webhook deployment
    fake.send_message(USER, "/start")  # waiting at Telegram while nobody takes it
    proc = BotProcess(tmp_path / "run", **base_env(fake, tmp_path))
    await proc.start()
    try:
        await fake.wait_for(lambda: "Welcome" in last_text(fake, USER), timeout=60)
        methods = [call.method.lower() for call in fake.calls]
        assert "deletewebhook" in methods and "getupdates" in methods
        assert methods.index("deletewebhook") < methods.index("getupdates")
        assert not fake.calls_of("deleteWebhook")[0].params.get("drop_pending_updates")
        assert fake.webhook.url == ""
        assert {"message", "callback_query"} <= set(fake.calls_of("getUpdates")[0].params["allowed_updates"])
    finally:
        status = await proc.stop(signal.SIGTERM, grace=60)
    assert status == 0
    assert "Traceback" not in proc.output()


@pytest.mark.parametrize("mode", ["webhook", "polling"])
async def test_telegram_failing_set_or_delete_webhook_for_a_while_does_not_end_the_start(
    mode: str, fake: FakeTelegram, tmp_path: Path
) -> None:
    """A Bot API blip right after getMe: retried until it answers, never exit 2 (which is not restarted)."""
    method = "setWebhook" if mode == "webhook" else "deleteWebhook"
    fake.inject_error(method, error_code=502, description="Bad Gateway", times=7)  # more than any fixed count
    env = base_env(fake, tmp_path)
    env["TELEGRAM_RETRY_MAX_SECONDS"] = "1"
    if mode == "webhook":
        port = free_port()
        env.update(WEBHOOK_URL=f"http://127.0.0.1:{port}/hook", WEB_PORT=str(port), WEBHOOK_SECRET=SECRET)
    proc = BotProcess(tmp_path / "run", **env)
    await proc.start()
    try:
        await fake.wait_for(lambda: len(fake.calls_of(method)) >= 8, timeout=90)
        fake.send_message(USER, "/start")
        await fake.wait_for(lambda: "Welcome" in last_text(fake, USER), timeout=60)
    finally:
        status = await proc.stop(signal.SIGTERM, grace=60)
    output = proc.output()
    assert status == 0, output[-3000:]
    assert f"{method} failed (attempt 7)" in output and f"{method} answered after 8 attempts" in output
    assert "Traceback" not in output and SECRET not in output
