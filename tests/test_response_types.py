"""aiogram's Response[T] classes are built once, at start-up, and the same class answers every call."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest
from aiogram.methods import AnswerCallbackQuery, EditMessageText, GetMe, SendMessage
from aiogram.methods.base import Response

import bot.app
from bot.runtime.response_types import keep_response_types
from tests.inprocess import live_bot

SENT = {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "hi"}


def test_every_method_class_is_kept_and_is_what_a_lookup_returns_after_a_collection() -> None:
    kept = keep_response_types()
    assert {SendMessage, EditMessageText, AnswerCallbackQuery, GetMe} <= kept.keys()
    assert keep_response_types() is kept  # built once per process
    for method, response_type in kept.items():
        gc.collect()
        assert Response[method.__returning__] is response_type  # type: ignore[name-defined]


async def test_check_response_gets_the_same_class_on_every_call(tmp_path: Path) -> None:
    async with live_bot(tmp_path) as live:
        session, content = live.bot.session, json.dumps({"ok": True, "result": SENT})
        method = SendMessage(chat_id=5, text="hi")
        first = session.check_response(live.bot, method, 200, content)
        gc.collect()
        second = session.check_response(live.bot, method, 200, content)
        assert type(first) is type(second) is keep_response_types()[SendMessage]
        assert second.result is not None and second.result.text == "hi"


async def test_the_composition_root_keeps_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(bot.app, "keep_response_types", lambda: calls.append(1) or keep_response_types())
    async with live_bot(tmp_path):
        assert calls == [1]
