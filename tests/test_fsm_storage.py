"""The FSM storage keeps a record only while a chat has a state or data, and at most a bounded number."""

from __future__ import annotations

from pathlib import Path

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey

from handlers.fsm_storage import BoundedMemoryStorage
from tests.inprocess import live_bot


class Form(StatesGroup):
    amount = State()


def key(chat: int) -> StorageKey:
    return StorageKey(bot_id=1, chat_id=chat, user_id=chat)


async def test_reading_a_chat_without_state_keeps_nothing() -> None:
    storage = BoundedMemoryStorage()
    for chat in range(1000):
        assert await storage.get_state(key(chat)) is None
        assert await storage.get_data(key(chat)) == {}
        assert await storage.get_value(key(chat), "x", 5) == 5
    assert len(storage.storage) == 0


async def test_clearing_a_state_frees_the_entry() -> None:
    storage = BoundedMemoryStorage()
    form = FSMContext(storage, key(7))
    await form.set_state(Form.amount)
    await form.update_data(user_id=42)
    assert await form.get_state() == Form.amount.state and await form.get_data() == {"user_id": 42}
    assert await storage.get_value(key(7), "user_id") == 42
    await form.set_state(None)
    assert len(storage.storage) == 1  # the data is still there
    await form.clear()
    assert len(storage.storage) == 0
    assert await form.get_state() is None and await form.get_data() == {}


async def test_data_is_copied_in_and_out() -> None:
    storage = BoundedMemoryStorage()
    data = {"items": [1]}
    await storage.set_data(key(7), data)
    data["items"].append(2)
    data["other"] = 1
    assert await storage.get_data(key(7)) == {"items": [1, 2]}  # a shallow copy, as aiogram's
    got = await storage.get_data(key(7))
    got["new"] = 1
    assert await storage.get_data(key(7)) == {"items": [1, 2]}


async def test_at_most_max_records_the_least_recently_used_dropped_first() -> None:
    storage = BoundedMemoryStorage(max_records=3)
    for chat in (1, 2, 3):
        await storage.set_state(key(chat), Form.amount)
    assert await storage.get_state(key(1)) == Form.amount.state  # 1 used again: 2 is now the oldest
    await storage.set_state(key(4), Form.amount)
    assert [k.chat_id for k in storage.storage] == [3, 1, 4]
    assert await storage.get_state(key(2)) is None


async def test_the_composition_root_uses_it(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as live:
        storage = live.dp.fsm.storage
        assert isinstance(storage, BoundedMemoryStorage)
        await live.say(5, "/start")
        await live.say(6, "/start")
        assert len(storage.storage) == 0  # updates from chats without a form leave nothing behind
