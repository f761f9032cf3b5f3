"""The fake Bot API server (tests/fakes/telegram.py) against real aiogram."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
)

from tests.fakes.telegram import FakeTelegram

USER = 777


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(text=text, callback_data=data)] for text, data in buttons]
    return InlineKeyboardMarkup(inline_keyboard=rows)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
    yield bot
    await bot.session.close()


async def test_get_me_and_commands(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (fake.bot_id, True, "test_sms_bot")
    fake.send_message(USER, "sent while the bot was down")
    assert await bot.delete_webhook(drop_pending_updates=True) is True
    assert await bot.get_updates() == []
    assert await bot.set_my_commands([BotCommand(command="start", description="Menu")]) is True
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert await bot.delete_my_commands() is True
    assert await bot.get_my_commands() == []
    assert fake.calls_of("setMyCommands")[0].params["commands"] == [{"command": "start", "description": "Menu"}]


async def test_send_edit_and_find_button(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(
        USER, "<b>Pick</b> a service", parse_mode="HTML", reply_markup=keyboard(("WhatsApp", "svc:wa"))
    )
    assert sent.text == "Pick a service" and sent.chat.id == USER and sent.from_user.id == fake.bot_id
    assert sent.reply_markup is not None and sent.reply_markup.inline_keyboard[0][0].callback_data == "svc:wa"
    call = fake.calls_of("sendMessage")[0]
    assert call.params["chat_id"] == USER and call.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "WhatsApp"

    edited = await bot.edit_message_text(
        "Pick again", chat_id=USER, message_id=sent.message_id, reply_markup=keyboard(("Telegram", "svc:tg"))
    )
    assert isinstance(edited, Message) and edited.text == "Pick again" and edited.edit_date
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Pick again", chat_id=USER, message_id=sent.message_id, reply_markup=keyboard(("Telegram", "svc:tg"))
        )
    assert fake.find_button(USER, "telegram") == (sent.message_id, "svc:tg")
    with pytest.raises(AssertionError, match="Telegram"):
        fake.find_button(USER, "whatsapp")

    await bot.edit_message_reply_markup(chat_id=USER, message_id=sent.message_id, reply_markup=None)
    second = await bot.send_message(USER, "second")
    assert second.message_id == sent.message_id + 1
    assert [(m["message_id"], m["text"], "reply_markup" in m) for m in fake.messages_to(USER)] == [
        (sent.message_id, "Pick again", False),
        (second.message_id, "second", False),
    ]
    copied = await bot.copy_message(USER, from_chat_id=USER, message_id=second.message_id)
    last = fake.messages_to(USER)[-1]
    assert (last["message_id"], last["text"]) == (copied.message_id, "second")
    assert await bot.delete_message(USER, second.message_id) is True
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(USER, second.message_id)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(USER, "price < 5", parse_mode="HTML")


async def test_polling_dispatcher(fake: FakeTelegram, bot: Bot) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("hi", reply_markup=keyboard(("Go", "go")))

    @router.callback_query(F.data == "go")
    async def go(query: CallbackQuery) -> None:
        await query.answer("going")
        assert query.message is not None
        await query.message.edit_text("gone")  # type: ignore[union-attr]

    dp = Dispatcher()
    dp.include_router(router)
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        fake.send_message(USER, "/start", username="alice")
        reply = await fake.wait_for(lambda: next((m for m in fake.messages_to(USER) if m["text"] == "hi"), None))
        message_id, data = fake.find_button(USER, "go")
        assert (message_id, data) == (reply["message_id"], "go")
        query_id = fake.press(USER, data, message_id=message_id)
        await fake.wait_for(lambda: query_id in fake.answered_callbacks())
        await fake.wait_for(lambda: fake.messages_to(USER)[-1]["text"] == "gone")
        assert fake.calls_of("getUpdates")[0].params["timeout"] == 1
        assert set(fake.calls_of("getUpdates")[0].params["allowed_updates"]) == {"message", "callback_query"}
    finally:
        await dp.stop_polling()
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling


async def test_get_updates_long_poll_and_offset(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot.get_updates(timeout=0) == []
    waiting = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    fake.send_message(USER, "hello")
    [update] = await asyncio.wait_for(waiting, 2)
    assert update.message is not None and update.message.text == "hello"
    assert len(await bot.get_updates()) == 1  # not confirmed yet
    assert await bot.get_updates(offset=update.update_id + 1) == []
    other = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
    try:
        first = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.1)
        assert await other.get_updates(timeout=0) == []
        with pytest.raises(TelegramConflictError):
            await first
    finally:
        await other.session.close()


async def test_injected_errors_and_blocking(fake: FakeTelegram, bot: Bot) -> None:
    fake.inject_error("sendMessage", error_code=429, description="Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER, "x")
    assert caught.value.retry_after == 7
    assert (await bot.send_message(USER, "x")).text == "x"  # only once

    fake.block_user(USER)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER, "x")
    assert (await bot.send_message(USER + 1, "x")).chat.id == USER + 1

    wrong = Bot("999:WRONG", session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await wrong.get_me()
    finally:
        await wrong.session.close()


async def test_stars_payment_flow(fake: FakeTelegram, bot: Bot) -> None:
    invoice = await bot.send_invoice(
        USER,
        title="Credits",
        description="100 credits",
        payload="topup:1",
        currency="XTR",
        prices=[LabeledPrice(label="Credits", amount=50)],
    )
    assert invoice.invoice is not None and invoice.invoice.total_amount == 50
    query_id = fake.pre_checkout(USER, "topup:1", 50)
    [update] = await bot.get_updates()
    assert isinstance(update.pre_checkout_query, PreCheckoutQuery)
    assert update.pre_checkout_query.invoice_payload == "topup:1"
    assert await bot.answer_pre_checkout_query(query_id, ok=True) is True
    assert fake.pre_checkout_answers[query_id]["ok"] is True
    fake.successful_payment(USER, "topup:1", 50, charge_id="ch_1")
    [_, paid] = await bot.get_updates()
    assert paid.message is not None and paid.message.successful_payment is not None
    assert paid.message.successful_payment.telegram_payment_charge_id == "ch_1"
    assert await bot.refund_star_payment(USER, "ch_1") is True
    with pytest.raises(TelegramBadRequest, match="CHARGE_ALREADY_REFUNDED"):
        await bot.refund_star_payment(USER, "ch_1")
    photo = await bot.send_photo(USER, "AgACfileid", caption="receipt")
    assert photo.caption == "receipt" and photo.photo is not None


async def test_json_and_query_string_requests(fake: FakeTelegram) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{fake.url}/bot{fake.token}/sendMessage"
        async with http.post(url, json={"chat_id": USER, "text": "json"}) as resp:
            assert (await resp.json())["result"]["text"] == "json"
        async with http.get(url, params={"chat_id": str(USER), "text": "query"}) as resp:
            assert (await resp.json())["result"]["chat"]["id"] == USER
        async with http.post(f"{fake.url}/bot{fake.token}/sendSticker", data={"chat_id": "5"}) as resp:
            assert await resp.json() == {"ok": True, "result": True}
    assert [c.params["chat_id"] for c in fake.calls] == [USER, USER, 5]
