"""End to end: the real bot process, its real polling loop, a fake Bot API and the demo upstream."""

from __future__ import annotations

import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.botproc import BotProcess
from tests.conftest import bot_process
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.postgres  # on either backend: bot_process gives the bot PostgreSQL on that pass

ADMIN, USER = 1, 4242
TOKEN = "123456:TEST-TOKEN"

StartBot = Callable[..., Awaitable[BotProcess]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def start_bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[StartBot]:
    procs: list[BotProcess] = []

    async def start(**overrides: str) -> BotProcess:
        env = {
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": fake.url,
            "DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
            "ADMIN_IDS": str(ADMIN),
            "DEMO_PROVIDER": "on",
            "DEMO_SMS_DELAY_SECONDS": "2",
            "POLL_INTERVAL_SECONDS": "0.5",
            "MARKUP_PERCENT": "30",
            # scripted users tap at machine speed; flood control has its own test (test_e2e_flood.py)
            "USER_UPDATES_PER_SECOND": "1000",
            "USER_UPDATES_BURST": "10000",
        }
        env.update(overrides)
        proc = bot_process(fake, tmp_path, **env)
        procs.append(proc)
        polls_before = len(fake.calls_of("getUpdates"))
        await proc.start()
        await fake.wait_for(lambda: len(fake.calls_of("getUpdates")) > polls_before, timeout=60)
        return proc

    yield start
    for proc in procs:
        await proc.stop()
        assert "Traceback" not in proc.output(), proc.output()[-3000:]
        assert TOKEN not in proc.output()


def last_text(fake: FakeTelegram, user_id: int) -> str:
    messages = fake.messages_to(user_id)
    return messages[-1].get("text", "") if messages else ""


def text_of(fake: FakeTelegram, user_id: int, message_id: int) -> str:
    return next((m.get("text", "") for m in fake.messages_to(user_id) if m["message_id"] == message_id), "")


def has_text(fake: FakeTelegram, user_id: int, needle: str) -> bool:
    return any(needle in m.get("text", "") for m in fake.messages_to(user_id))


async def tap(fake: FakeTelegram, user_id: int, label: str) -> int:
    """Press the newest button labelled ``label``; returns the id of the message it sits on."""
    message_id, data = fake.find_button(user_id, label)
    query_id = fake.press(user_id, data, message_id=message_id)
    await fake.wait_for(lambda: query_id in fake.answered_callbacks())
    return message_id


async def topped_up_user(fake: FakeTelegram, amount: str = "5.00") -> None:
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    fake.send_message(ADMIN, f"/credit {USER} {amount} test top-up")
    await fake.wait_for(lambda: "Credited" in last_text(fake, ADMIN))


async def buy_whatsapp_us(fake: FakeTelegram) -> None:
    await tap(fake, USER, "Buy a number")
    await tap(fake, USER, "United States")
    screen = await tap(fake, USER, "WhatsApp")
    assert "Price: 0.59 USD" in text_of(fake, USER, screen)


def code_messages(fake: FakeTelegram) -> list[dict]:
    """The messages pushed for an arrived code (not the order card, which quotes the SMS too)."""
    return [m for m in fake.messages_to(USER) if m.get("text", "").startswith("🧪 DEMO · WhatsApp code:")]


def balance_of(fake: FakeTelegram) -> str:
    match = re.search(r"Your balance: ([\d.]+ USD)", last_text(fake, USER))
    assert match, last_text(fake, USER)
    return match.group(1)


async def ask_balance(fake: FakeTelegram) -> str:
    """The balance on the screen /balance answers with (not on a notice that happens to arrive meanwhile)."""
    sent = len(fake.messages_to(USER))
    fake.send_message(USER, "/balance")

    def screen() -> str | None:
        for message in fake.messages_to(USER)[sent:]:
            match = re.search(r"Your balance: ([\d.]+ USD)", message.get("text", ""))
            if match:
                return match.group(1)
        return None

    return await fake.wait_for(screen)


async def test_buy_and_the_code_arrives(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    commands = fake.calls_of("setMyCommands")
    assert commands and {c["command"] for c in commands[0].params["commands"]} >= {"buy", "balance", "orders", "help"}
    await topped_up_user(fake)
    await buy_whatsapp_us(fake)
    card_id = await tap(fake, USER, "Confirm")
    await fake.wait_for(lambda: "Number:" in text_of(fake, USER, card_id))
    assert "DEMO" in text_of(fake, USER, card_id)
    code_msg = (await fake.wait_for(lambda: code_messages(fake)))[0]
    code = re.search(r"code: (\d{6})", code_msg["text"])
    assert code and code.group(1) in code_msg["text"].split("\n", 2)[-1]  # full SMS text included
    await fake.wait_for(lambda: "Code received" in text_of(fake, USER, card_id))
    assert code.group(1) in text_of(fake, USER, card_id)
    card = next(m for m in fake.messages_to(USER) if m["message_id"] == card_id)
    assert "Cancel" not in str(card.get("reply_markup"))
    assert await ask_balance(fake) == "4.41 USD"


async def test_cancel_before_code_refunds(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot(DEMO_SMS_DELAY_SECONDS="600")
    await topped_up_user(fake)
    await buy_whatsapp_us(fake)
    await tap(fake, USER, "Confirm")
    await fake.wait_for(lambda: has_text(fake, USER, "Waiting for the SMS"))
    assert await ask_balance(fake) == "4.41 USD"
    await tap(fake, USER, "Cancel")
    await fake.wait_for(lambda: has_text(fake, USER, "Cancelled, the price was refunded"))
    assert await ask_balance(fake) == "5.00 USD"


async def test_double_confirm_charges_once(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot(DEMO_SMS_DELAY_SECONDS="600")
    await topped_up_user(fake)
    await buy_whatsapp_us(fake)
    message_id, data = fake.find_button(USER, "Confirm")
    first = fake.press(USER, data, message_id=message_id)
    second = fake.press(USER, data, message_id=message_id)
    await fake.wait_for(lambda: {first, second} <= fake.answered_callbacks())
    await fake.wait_for(lambda: has_text(fake, USER, "Waiting for the SMS"))
    assert await ask_balance(fake) == "4.41 USD"
    sent = len(fake.messages_to(USER))
    fake.send_message(USER, "/orders")
    await fake.wait_for(lambda: len(fake.messages_to(USER)) > sent)
    orders = [
        b
        for row in fake.messages_to(USER)[-1]["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"].startswith("#")
    ]
    assert len(orders) == 1


async def test_restart_mid_order_still_delivers_the_code(fake: FakeTelegram, start_bot: StartBot) -> None:
    bot = await start_bot(DEMO_SMS_DELAY_SECONDS="4")
    await topped_up_user(fake)
    await buy_whatsapp_us(fake)
    await tap(fake, USER, "Confirm")
    await fake.wait_for(lambda: has_text(fake, USER, "Waiting for the SMS"))
    assert await bot.stop(signal.SIGKILL) is not None
    await start_bot(DEMO_SMS_DELAY_SECONDS="4")
    await fake.wait_for(lambda: code_messages(fake), timeout=20)
    assert len(code_messages(fake)) == 1
    assert await ask_balance(fake) == "4.41 USD"


async def test_credit_is_for_admins_only_and_checks_arguments(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    fake.send_message(USER, f"/credit {USER} 100")
    await fake.wait_for(lambda: "administrators" in last_text(fake, USER))
    fake.send_message(ADMIN, "/credit nobody lots")
    await fake.wait_for(lambda: "Usage" in last_text(fake, ADMIN))
    fake.send_message(ADMIN, f"/credit {USER} 1.234")
    await fake.wait_for(lambda: len(fake.messages_to(ADMIN)) == 2 and "Usage" in last_text(fake, ADMIN))
    assert await ask_balance(fake) == "0.00 USD"


async def test_outdated_or_garbage_buttons_are_answered(fake: FakeTelegram, start_bot: StartBot) -> None:
    await start_bot()
    fake.send_message(USER, "/start")
    await fake.wait_for(lambda: "Welcome" in last_text(fake, USER))
    message_id = fake.messages_to(USER)[-1]["message_id"]
    for data in ("zz:garbage", "o:cancel:notanumber", "o:cancel:999999"):
        query_id = fake.press(USER, data, message_id=message_id)
        await fake.wait_for(lambda query_id=query_id: query_id in fake.answered_callbacks())
