"""The callback-answer middleware: each tap answered exactly once, with the handler's text if any.

A tiny dispatcher over the strict fake Bot API, which refuses a second answer to one query; then the real
dispatcher (:mod:`tests.fuzz_updates`) with one user's taps fed at once, as polling hands them to concurrent tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramForbiddenError
from aiogram.methods import EditMessageText
from aiogram.types import CallbackQuery, ErrorEvent

from handlers.callback_answers import CallbackAnswers, TapAnswer
from tests.fakes.telegram import FakeTelegram
from tests.fuzz_updates import Step, UpdateGenerator, _feed, fuzz_bot

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

    @router.callback_query(F.data == "forbidden")
    async def forbidden(query: CallbackQuery) -> None:  # the user blocked the bot before the screen was shown
        raise TelegramForbiddenError(EditMessageText(text="x"), "Forbidden: bot was blocked by the user")

    @router.callback_query(F.data == "early then fails")
    async def early_then_fails(query: CallbackQuery, callback_answer: TapAnswer) -> None:
        await callback_answer.now("Working…")
        raise RuntimeError("boom after the answer")

    @router.error()
    async def on_error(event: ErrorEvent, callback_answer: TapAnswer) -> bool:
        assert event.update.callback_query is not None
        if not isinstance(event.exception, TelegramForbiddenError):  # as handlers/errors.py: nobody to tell
            callback_answer.alert("Something went wrong")
        return True

    return router


def build_root(seen: list[str]) -> Router:
    """As handlers/routers.py: the middleware on a root router, the screens under it; no catch-all."""
    root = Router(name="root")
    CallbackAnswers().setup(root)
    root.include_router(build_router(seen))
    return root


@pytest.fixture
async def wired() -> AsyncIterator[tuple[FakeTelegram, Bot, Dispatcher, list[str]]]:
    async with FakeTelegram(token=TOKEN) as fake:
        bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
        seen: list[str] = []
        dp = Dispatcher()
        dp.include_router(build_root(seen))
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
    answers = await tap(*wired[:3], "early then fails")  # answered before it failed: that answer stands
    assert [a["text"] for a in answers] == ["Working…"]


@pytest.mark.parametrize("data", ["forbidden", "nobody's"], ids=["error handler says nothing", "no handler"])
async def test_a_tap_nothing_answered_gets_one_blank_answer(wired: Any, data: str) -> None:
    answers = await tap(*wired[:3], data)
    assert len(answers) == 1 and not answers[0].get("text")


async def test_one_users_burst_of_taps_and_a_block_leaves_no_tap_spinning(tmp_path: Path) -> None:
    """The fuzz's burst: menu taps and "block the bot" of one user at once. The taps' screens cannot be shown
    (Telegram says the bot was blocked, which the error handler takes quietly): the taps are answered anyway."""
    async with fuzz_bot(tmp_path) as harness:
        telegram = harness.telegram
        generator = UpdateGenerator(1, telegram)
        user = generator.users[1]
        await _feed(harness.dp, harness.bot, telegram, Step("flow", [generator._say("/start")(user)]))
        menu = telegram.messages[user.id][list(telegram.keyboards[user.id])[-1]]
        taps = [generator._callback(user, data, menu) for data in ("m:balance", "m:home", "m:balance")]
        block = generator._my_chat_member(user, "member", "kicked")
        burst = Step("burst", [taps[0], block, *taps[1:]], together=True)
        assert await _feed(harness.dp, harness.bot, telegram, burst) == []
        assert telegram.refusals["editMessageText: Forbidden: bot was blocked by the user"] == len(taps)
    assert telegram.open_queries == set(), "taps left spinning"
    assert telegram.calls["answerCallbackQuery"] == len(taps)
    assert not any(refusal.startswith("answerCallbackQuery") for refusal in telegram.refusals)
