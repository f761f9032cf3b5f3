"""Admin forms meet garbage and races the fuzzer found: a form whose data vanished under it, and an
audience button the bot never offered. Each gets an answer, not an error."""

from __future__ import annotations

from pathlib import Path

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import StorageKey

from handlers.admin.balance_changes import Adjust
from handlers.admin.broadcast import BroadcastForm
from tests.conftest import add_user
from tests.inprocess import LiveBot, live_bot

ADMIN = 1  # live_bot's ADMIN_IDS
USER = 4242


def _form(live: LiveBot, user_id: int) -> FSMContext:
    key = StorageKey(bot_id=live.bot.id, chat_id=user_id, user_id=user_id)
    return FSMContext(storage=live.dp.storage, key=key)


async def _enter(live: LiveBot, state: State, **data: object) -> FSMContext:
    form = _form(live, ADMIN)
    await form.set_state(state)
    await form.set_data(dict(data))
    return form


async def test_an_amount_for_a_form_whose_data_was_cleared_is_not_an_error(tmp_path: Path) -> None:
    """The user card's Show clears the form while the amount is on its way: the amount finds the
    state but no data. It is answered and the form dropped; no balance moves."""
    async with live_bot(tmp_path) as live:
        await add_user(live.db, USER, 500)
        await live.say(ADMIN, "/start")
        form = await _enter(live, Adjust.amount)
        await live.say(ADMIN, "1 by hand")
        assert not live.errors
        assert "did not get that" in live.fake.messages_to(ADMIN)[-1]["text"]
        assert await form.get_state() is None
        async with live.db.read() as conn:
            cursor = await conn.execute("SELECT balance FROM users WHERE id = ?", (USER,))
            assert (await cursor.fetchone())[0] == 500


async def test_the_amount_still_works_with_its_data(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as live:
        await add_user(live.db, USER, 500)
        await live.say(ADMIN, "/start")
        await _enter(live, Adjust.amount, user_id=USER, sign=1)
        await live.say(ADMIN, "1 by hand")
        assert not live.errors
        assert "topped up by 1.00 USD" in live.fake.messages_to(USER)[-1]["text"]


async def test_an_audience_never_offered_is_a_stale_screen(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as live:
        await live.say(ADMIN, "/start")
        menu = live.fake.messages_to(ADMIN)[-1]["message_id"]
        for data in ("bca:everyone:0", "bca:active:0", "bca:active:99999", "bca::0"):
            form = await _enter(live, BroadcastForm.audience, from_chat_id=ADMIN, message_id=menu)
            query_id = live.fake.press(ADMIN, data, message_id=menu)
            await live.feed()
            assert not live.errors, data
            answers = [c.params for c in live.fake.calls_of("answerCallbackQuery")]
            answer = next(a for a in answers if str(a["callback_query_id"]) == query_id)
            assert "no longer current" in answer["text"], (data, answer)
            assert await form.get_state() == BroadcastForm.audience.state  # the real buttons still work
