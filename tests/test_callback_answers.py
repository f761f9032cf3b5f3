"""The callback-answer middleware: each tap answered exactly once, with the handler's text if any.

A tiny dispatcher over the strict fake Bot API, which refuses a second answer to one query.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, ErrorEvent

from handlers.callback_answers import CallbackAnswers, TapAnswer
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:TEST-TOKEN"
USER = 42


def build_router(seen: list[str]) -> Router:
    router = Router(name="taps")

    @router.callback_query(F.data == "plain")
    async def plain(query: CallbackQuery) -> None:
        seen.append("plain")

    @router.callback_query(F.data == "alert")
    async def alert(query: CallbackQuery, callback_answer: TapAnswer) -> None:
        callback_answer.text = "Sold out"
        callback_answer.show_alert = True

    @router.callback_query(F.data == "slow")
    async def slow(query: CallbackQuery, callback_answer: TapAnswer) -> None:
        await callback_answer.now("Working…")
        seen.append("slow work")
        await callback_answer.now("too late: already answered")  # a no-op

    @router.callback_query(F.data == "fails")
    async def fails(query: CallbackQuery) -> None:
        raise RuntimeError("boom")

    @router.error()
    async def on_error(event: ErrorEvent) -> None:
        assert event.update.callback_query is not None
        await event.update.callback_query.answer("Something went wrong", show_alert=True)

    return router


@pytest.fixture
async def wired() -> AsyncIterator[tuple[FakeTelegram, Bot, Dispatcher, list[str]]]:
    async with FakeTelegram(token=TOKEN) as fake:
        bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
        seen: list[str] = []
        dp = Dispatcher()
        dp.callback_query.middleware(CallbackAnswers())
        dp.include_router(build_router(seen))
        try:
            yield fake, bot, dp, seen
        finally:
            await bot.session.close()


async def tap(fake: FakeTelegram, bot: Bot, dp: Dispatcher, data: str) -> list[dict[str, Any]]:
    """Press a button carrying ``data``, dispatch it, and return the answers it got."""
    sent = fake.send_message(USER, "hi")
    query_id = fake.press(USER, data, message_id=sent)
    await asyncio.gather(*(dp.feed_raw_update(bot, u) for u in fake.take_updates()))
    calls = fake.calls_of("answerCallbackQuery")
    return [c.params for c in calls if str(c.params.get("callback_query_id")) == query_id]


async def test_a_handler_that_says_nothing_gets_a_blank_answer(wired: Any) -> None:
    fake, bot, dp, seen = wired
    answers = await tap(fake, bot, dp, "plain")
    assert seen == ["plain"]
    assert len(answers) == 1 and not answers[0].get("text")


async def test_the_handlers_text_and_alert_reach_the_answer(wired: Any) -> None:
    answers = await tap(*wired[:3], "alert")
    assert len(answers) == 1
    assert answers[0]["text"] == "Sold out" and answers[0]["show_alert"] in (True, "true")


async def test_an_early_answer_is_the_only_answer(wired: Any) -> None:
    fake, bot, dp, seen = wired
    answers = await tap(fake, bot, dp, "slow")
    assert seen == ["slow work"]
    assert [a["text"] for a in answers] == ["Working…"]


async def test_a_failed_handler_leaves_the_answer_to_the_error_handler(wired: Any) -> None:
    answers = await tap(*wired[:3], "fails")
    assert [a["text"] for a in answers] == ["Something went wrong"]
