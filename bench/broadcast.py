"""A broadcast to 20,000 recipients against the fake Bot API, at the configured ``BROADCAST_RATE``.

The fake (``tests/fakes/telegram.py``, in this process) answers every call in 5 ms and turns one
``copyMessage`` in every 1,000 into a 429 with ``retry_after=1``, which pauses the whole broadcast
for a second. Figures: the achieved rate as a ratio to the configured one (goal ≥ 0.95; the 429
pauses count against it), duplicates (goal 0), missed recipients (goal 0) and peak memory.

At the default 25 messages/s, 20,000 recipients take about 14 minutes. ``BENCH_BROADCAST_RECIPIENTS``
sets another count (e.g. ``BENCH_BROADCAST_RECIPIENTS=2000 python -m bench`` for a 80 s run);
``make bench`` runs the default.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.utils.i18n import I18n

from bench.common import report
from bot.operator.broadcasts import Broadcasts
from bot.settings import Settings
from handlers.admin import broadcast_keyboards
from storage import broadcasts as q
from storage.db import Database
from tests.fakes.telegram import FakeTelegram

RECIPIENTS = int(os.environ.get("BENCH_BROADCAST_RECIPIENTS", "20000"))
LATENCY = 0.005
EVERY_429 = 1000
ADMIN = 1
TOKEN = "123456:BENCH"
LOCALES = Path(__file__).resolve().parent.parent / "locales"


async def inject_429s(fake: FakeTelegram) -> None:
    """One 429 (retry_after=1) for every ``EVERY_429`` calls made."""
    injected = 0
    while True:
        if len(fake.calls) >= (injected + 1) * EVERY_429:
            injected += 1
            fake.inject_error(
                "copyMessage", error_code=429, description="Too Many Requests: retry after 1", retry_after=1
            )
        await asyncio.sleep(0.01)


async def main() -> None:
    settings = Settings(_env_file=None, bot_token=TOKEN)  # type: ignore[call-arg]
    rate = settings.broadcast_rate
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "bench.sqlite3")
        async with db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO users (id) VALUES (?)", [(i,) for i in range(10_000, 10_000 + RECIPIENTS)]
            )
        async with FakeTelegram(token=TOKEN) as fake:
            fake.latency = LATENCY
            bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
            service = Broadcasts(
                bot, db, I18n(path=LOCALES, default_locale="en", domain="messages"), broadcast_keyboards, rate
            )
            source = fake.send_message(ADMIN, "📣 bench")
            screen = await bot.send_message(ADMIN, "progress")
            injector = asyncio.create_task(inject_429s(fake))
            started = time.perf_counter()
            broadcast_id, recipients, _created = await service.start(
                admin_id=ADMIN,
                from_chat_id=ADMIN,
                message_id=source,
                button=None,
                audience="all",
                progress=(ADMIN, screen.message_id),
            )
            await service.wait(broadcast_id)
            elapsed = time.perf_counter() - started
            injector.cancel()
            got = [len(fake.messages_to(user_id)) for user_id in range(10_000, 10_000 + RECIPIENTS)]
            limited = len(fake.calls_of("copyMessage")) - sum(got)
            await bot.session.close()
        async with db.read() as conn:
            counts = await q.counts(conn, broadcast_id)
        await db.close()
    report(
        "broadcast",
        recipients=recipients,
        rate=rate,
        api_latency_ms=int(LATENCY * 1000),
        pauses_429=limited,
        elapsed_s=f"{elapsed:.1f}",
        achieved_per_s=f"{counts.sent / elapsed:.2f}",
        ratio_to_rate=f"{counts.sent / elapsed / rate:.3f}",
        sent=counts.sent,
        duplicates=sum(n - 1 for n in got if n > 1),
        missed=sum(1 for n in got if n == 0),
    )
