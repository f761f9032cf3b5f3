"""Resident memory of the real bot process with 100,000 users and 10,000 open orders, over 10 minutes.

The bot (``python -m bot``, default settings) starts on a database seeded with ``BENCH_MEMORY_USERS``
users (default 100,000) and ``BENCH_MEMORY_ORDERS`` open orders (default 10,000, each with its
charge and its upstream purchase, as a purchase leaves them), sold by an sms-activate protocol
upstream (``tests/fakes/smsactivate.py`` served on the loopback, in this process) that knows every
one of them and never delivers a code: the poll job runs against it the whole time, through the
upstream rate limiter. Meanwhile the fake Bot API feeds ``BENCH_MEMORY_RATE`` updates a second
(default 25): /start then /buy from one user after another, so per-chat state (aiogram's FSM storage,
flood control) meets a new chat every few updates.

RSS (``VmRSS`` of ``/proc/<pid>/status``) is sampled every second for ``BENCH_MEMORY_SECONDS``
(default 600) after a warm-up (a tenth of that, at most 60 s, traffic and polling already running:
the first poll cycle and the caches settle). Figures: RSS at the start of the window, its peak and
its end in MiB, eleven samples across the window (``trend_mib``), the growth (end − start), and the
ratio of the peak to the goal: under 250 MiB and flat (no growth). ``answered`` (messages sent /
updates handed to the bot) and ``upstream_requests`` show that the bot answered and polled.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bench.common import assert_clean, pid_of, report, rss_mib, start_polling
from storage.db import Database
from storage.orders import iso
from tests.botproc import BotProcess
from tests.fakes.serve import serve
from tests.fakes.smsactivate import FakeActivation, FakeSmsActivate
from tests.fakes.telegram import FakeTelegram

USERS = int(os.environ.get("BENCH_MEMORY_USERS", "100000"))
ORDERS = int(os.environ.get("BENCH_MEMORY_ORDERS", "10000"))
SECONDS = float(os.environ.get("BENCH_MEMORY_SECONDS", "600"))
RATE = float(os.environ.get("BENCH_MEMORY_RATE", "25"))
GOAL_MIB = 250
TOKEN = "123456:BENCH"
KEY = "bench-memory-key"
PRICE, COST = 46, Decimal("0.35")  # what a user paid (cents), what the upstream charged (USD)
FIRST_ACTIVATION = 5_000_001


async def seed(path: Path, users: int, orders: int) -> None:
    """``users`` users; the first ``orders`` of them with one open order each, paid from a top-up."""
    expires = iso(datetime.now(UTC) + timedelta(days=1))  # open for the whole run
    ids = range(1, orders + 1)
    db = await Database.open(path)
    try:
        async with db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO users (id, first_name) VALUES (?, 'Bench')", [(i,) for i in range(1, users + 1)]
            )
            await conn.executemany(
                "INSERT INTO orders (id, user_id, request_key, status, provider, upstream_id, phone, country,"
                " service, price, cost, cost_currency, chat_id, expires_at)"
                " VALUES (?, ?, ?, 'active', 'smsactivate', ?, ?, 'RU', 'whatsapp', ?, 35, 'USD', ?, ?)",
                [(i, i, f"bench:{i}", str(FIRST_ACTIVATION + i), f"+7900{i:07d}", PRICE, i, expires) for i in ids],
            )
            ledger = (
                "INSERT INTO ledger (user_id, amount, balance_after, kind, reference, order_id)"
                " VALUES (?, ?, ?, ?, ?, ?)"
            )
            await conn.executemany(ledger, [(i, PRICE, PRICE, "topup", f"bench:topup:{i}", None) for i in ids])
            await conn.executemany(ledger, [(i, -PRICE, 0, "purchase", f"order:{i}:charge", i) for i in ids])
            await conn.executemany(
                "INSERT INTO upstream_purchases (order_id, user_id, kind, provider, upstream_id, reference, cost,"
                " cost_currency) VALUES (?, ?, 'number', 'smsactivate', ?, ?, 35, 'USD')",
                [(i, i, str(FIRST_ACTIVATION + i), f"order:{i}:smsactivate:{FIRST_ACTIVATION + i}") for i in ids],
            )
    finally:
        await db.close()


def upstream(orders: int) -> FakeSmsActivate:
    """The fake upstream, knowing every seeded order as an activation waiting for its code."""
    fake = FakeSmsActivate(api_key=KEY)
    for i in range(1, orders + 1):
        activation_id = str(FIRST_ACTIVATION + i)
        fake.activations[activation_id] = FakeActivation(activation_id, f"7900{i:07d}", "wa", 0, COST)
    return fake


async def traffic(fake: FakeTelegram, users: int, rate: float) -> None:
    """/start then /buy from one user after another (cycling through ``users``), ``rate`` updates a second."""
    loop = asyncio.get_running_loop()
    started, sent = loop.time(), 0
    while True:
        fake.send_message(sent // 2 % users + 1, "/buy" if sent % 2 else "/start")
        sent += 1
        await asyncio.sleep(max(started + sent / rate - loop.time(), 0))


async def sample(pid: int, seconds: float) -> list[float]:
    """RSS of ``pid`` once a second for ``seconds``."""
    samples = [rss_mib(pid)]
    for _ in range(max(int(seconds), 1)):
        await asyncio.sleep(1)
        samples.append(rss_mib(pid))
    return samples


def rss_figures(samples: list[float]) -> dict[str, str]:
    """Start, peak and end of the window in MiB, eleven samples across it (a trend: flat or climbing), the
    growth, and the peak's ratio to the goal."""
    start, peak, end = samples[0], max(samples), samples[-1]
    figures = {"start_mib": start, "peak_mib": peak, "end_mib": end}
    trend = [samples[len(samples) * tenth // 10] for tenth in range(10)] + [end]
    return {key: f"{value:.0f}" for key, value in figures.items()} | {
        "trend_mib": " ".join(f"{value:.0f}" for value in trend),
        "growth_mib": f"{end - start:+.1f} (goal: flat)",
        "ratio_peak_to_goal": f"{peak / GOAL_MIB:.2f} (goal < 1.0 of {GOAL_MIB} MiB)",
    }


async def drained(fake: FakeTelegram) -> None:
    """Updates not handed to the bot yet dropped, and every one handed to it answered (one message each):
    stopping the bot now cuts nothing short."""
    fake.take_updates()
    await fake.wait_for(lambda: len(fake.calls_of("sendMessage")) >= len(fake.served_at), timeout=120)


async def main(users: int = USERS, orders: int = ORDERS, seconds: float = SECONDS, rate: float = RATE) -> None:
    warmup = min(seconds / 10, 60)
    upstream_fake = upstream(orders)
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "bot.sqlite3"
        await seed(database, users, orders)
        async with FakeTelegram(token=TOKEN) as fake, serve(upstream_fake) as url:
            proc = BotProcess(
                Path(tmp) / "run",
                BOT_TOKEN=TOKEN,
                TELEGRAM_API_URL=fake.url,
                DATABASE_PATH=str(database),
                DEMO_PROVIDER="off",
                SMSACTIVATE_API_KEY=KEY,
                SMSACTIVATE_BASE_URL=url,
            )
            feeding: asyncio.Task[None] | None = None
            try:
                await start_polling(proc, fake)
                feeding = asyncio.create_task(traffic(fake, users, rate))
                await asyncio.sleep(warmup)
                samples = await sample(pid_of(proc), seconds)
                feeding.cancel()
                await drained(fake)
            finally:
                if feeding is not None:
                    feeding.cancel()
                await proc.stop()
            updates = len(fake.served_at)  # handed to the bot
            replies = len(fake.calls_of("sendMessage"))
        output = proc.output()
    assert_clean("bot", output)
    actions = Counter(request.action for request in upstream_fake.requests)
    report(
        "memory",
        users=users,
        open_orders=orders,
        window_s=f"{seconds:.0f} (after {warmup:.0f} s of warm-up)",
        answered=f"{replies}/{updates}",  # messages sent / updates handed to the bot
        upstream_requests=" ".join(f"{action}:{count}" for action, count in sorted(actions.items())),
        **rss_figures(samples),
    )


if __name__ == "__main__":
    asyncio.run(main())
