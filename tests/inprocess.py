"""The real dispatcher, routers and services in the test's own process, over local fakes.

:func:`live_bot` wires :func:`bot.app.build_dispatcher` to a :class:`FakeTelegram` (the Bot API) and a
:class:`FakeSmsActivate` (the one upstream, selling WhatsApp in the US), so a test can count what
reaches the upstream and run the poll job itself. Updates the fake queues are fed with
:meth:`LiveBot.feed`, concurrently, as the polling loop does (``handle_as_tasks``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher

from bot.app import build_bot, build_dispatcher
from bot.settings import Settings
from providers.guard import GuardedProvider
from providers.smsactivate.client import SmsActivateProvider
from storage.backends import Store, open_store
from tests import backend
from tests.conftest import add_user
from tests.fakes.smsactivate import FakeSmsActivate
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:TEST-TOKEN"
KEY = "inprocess-key"
US = 187  # the sms-activate protocol's id of the US


@dataclass
class LiveBot:
    fake: FakeTelegram
    upstream: FakeSmsActivate
    bot: Bot
    dp: Dispatcher
    db: Store

    errors: list[BaseException] = field(default_factory=list)  # what escaped the dispatcher, as polling logs it

    async def feed(self) -> None:
        """Dispatch every update queued at the fake so far, all at once, and wait for them."""
        updates = self.fake.take_updates()
        results = await asyncio.gather(
            *(self.dp.feed_raw_update(self.bot, update) for update in updates), return_exceptions=True
        )
        self.errors += [r for r in results if isinstance(r, BaseException)]

    async def tap(self, user_id: int, label: str) -> int:
        """Press the newest button labelled ``label`` and dispatch it; returns its message id."""
        message_id, data = self.fake.find_button(user_id, label)
        query_id = self.fake.press(user_id, data, message_id=message_id)
        await self.feed()
        assert query_id in self.fake.answered_callbacks(), f"{label!r} was not answered"
        return message_id

    async def say(self, user_id: int, text: str, **kwargs: Any) -> None:
        self.fake.send_message(user_id, text, **kwargs)
        await self.feed()

    def status_checks(self) -> int:
        """getStatus requests the upstream received."""
        return self.upstream.actions().count("getStatus")

    async def buy_whatsapp_us(self, user_id: int, balance: int = 500) -> int:
        """Credit the user, buy through the menus; returns the order card's message id."""
        await add_user(self.db, user_id, balance)
        await self.say(user_id, "/start")
        await self.tap(user_id, "Buy a number")
        await self.tap(user_id, "United States")
        await self.tap(user_id, "WhatsApp")
        return await self.tap(user_id, "Confirm")


def live_settings(tmp_path: Path, api_url: str, **overrides: Any) -> Settings:
    """Flood control is out of the way unless a test sets USER_UPDATES_*: taps here come all at once."""
    values: dict[str, Any] = {"user_updates_per_second": 1000, "user_updates_burst": 10000, **overrides}
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,  # type: ignore[arg-type]
        database_path=tmp_path / "live.sqlite3",
        telegram_api_url=api_url,
        admin_ids="1",  # type: ignore[arg-type]
        demo_provider="off",
        **values,
    )


@asynccontextmanager
async def live_bot(tmp_path: Path, **settings: Any) -> AsyncIterator[LiveBot]:
    """The bot on the test's backend: its SQLite file in ``tmp_path``, or (TEST_BACKEND=postgresql) a fresh
    PostgreSQL database of its own, dropped after."""
    url = await backend.create_database() if backend.ON_POSTGRES else None
    try:
        async with _live_bot(tmp_path, url, settings) as live:
            yield live
    finally:
        if url is not None:
            await backend.drop_database(url)


@asynccontextmanager
async def _live_bot(tmp_path: Path, url: str | None, settings: dict[str, Any]) -> AsyncIterator[LiveBot]:
    async with FakeTelegram(token=TOKEN) as fake:
        upstream = FakeSmsActivate(api_key=KEY)
        upstream.prices = {US: {"wa": [Decimal("0.20"), 500]}}
        config = live_settings(tmp_path, fake.url, database_url=url, **settings)
        db = await open_store(config.database_path, config.postgres_url)
        bot = build_bot(config)
        provider = GuardedProvider(
            SmsActivateProvider(KEY, "https://sa.example", transport=upstream), rate=1000, failures=100, cooldown=1
        )
        dp = await build_dispatcher(config, bot, db, [provider])
        try:
            yield LiveBot(fake, upstream, bot, dp, db)
        finally:
            _detach_routers(dp)
            await dp["catalog"].close()
            await bot.session.close()
            await db.close()


def _detach_routers(dp: Dispatcher) -> None:
    """The handlers' routers are module globals and aiogram attaches a router once: set them free for
    the next test's dispatcher (aiogram has no public way to detach one)."""
    for root in dp.sub_routers:
        for router in root.sub_routers:
            router._parent_router = None
