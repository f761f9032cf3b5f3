"""Per-user flood control (handlers.middlewares.FloodMiddleware): a flooder's extra updates are dropped
and they are told once; other users and payments go through; the state kept per user is bounded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiogram.types import Update
from aiogram.utils.i18n import I18n

from bot.app import LOCALES
from handlers.middlewares import FloodMiddleware
from tests.inprocess import live_bot

FLOODER, OTHER = 1111, 2222


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text", "") for m in messages]


async def test_a_flooder_is_told_once_while_others_and_payments_go_through(tmp_path: Path) -> None:
    async with live_bot(tmp_path, user_updates_per_second=3, user_updates_burst=5) as live:
        fake = live.fake
        for n in range(100):
            fake.send_message(FLOODER, f"spam {n}")
        checkout = fake.pre_checkout(FLOODER, "stars:100", 100)
        fake.successful_payment(FLOODER, "stars:100", 100, "charge-in-a-flood")
        for n in range(100):
            fake.send_message(FLOODER, f"more spam {n}")
        fake.send_message(OTHER, "/start")
        await live.feed()
        assert live.errors == []
        assert fake.pre_checkout_answers[checkout]["ok"] is True  # never dropped
        flooder = texts(fake.messages_to(FLOODER))
        assert any(text.startswith("✅ Topped up 1.00 USD") for text in flooder)  # credited
        assert sum("Too fast" in text for text in flooder) == 1
        assert len(flooder) <= 5 + 1 + 1 + 1  # the burst, the notice, the receipt, one that leaked in
        assert "Welcome" in texts(fake.messages_to(OTHER))[0]


async def test_a_later_flood_is_a_new_episode_with_a_new_notice(tmp_path: Path) -> None:
    async with live_bot(tmp_path, user_updates_per_second=10, user_updates_burst=1) as live:  # drains in 0.1 s
        for _ in range(2):
            for n in range(20):
                live.fake.send_message(FLOODER, f"spam {n}")
            await live.feed()
            await asyncio.sleep(0.5)
        flooder = texts(live.fake.messages_to(FLOODER))
        assert sum("Too fast" in text for text in flooder) == 2


def _update(update_id: int, user_id: int) -> Update:
    chat = {"id": user_id, "type": "private", "first_name": "T"}
    sender = {"id": user_id, "is_bot": False, "first_name": "T", "language_code": "en"}
    message = {"message_id": update_id, "date": 1, "chat": chat, "from": sender, "text": "hi"}
    return Update.model_validate({"update_id": update_id, "message": message})


async def test_per_user_state_is_bounded_and_idle_users_are_forgotten() -> None:
    flood = FloodMiddleware(rate=20, burst=2, max_senders=50)  # a full bucket drains in 0.1 s
    i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
    handled: list[int] = []

    async def handler(event: Any, data: dict[str, Any]) -> None:
        handled.append(event.update_id)

    async def feed(update_id: int, user_id: int) -> None:
        update = _update(update_id, user_id)
        assert update.message is not None
        await flood(handler, update, {"event_from_user": update.message.from_user, "i18n": i18n})

    for user_id in range(1, 1001):
        await feed(user_id, user_id)
    assert len(handled) == 1000  # one update each: nobody is over the limit
    assert flood.tracked == 50  # but only the 50 most recent are held
    await asyncio.sleep(0.15)
    await feed(5000, 5000)
    assert flood.tracked == 1  # the idle were forgotten: their buckets had drained
