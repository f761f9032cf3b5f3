"""Purchases per second through real bot processes in webhook mode behind a round-robin balancer.

One setup is a backend (SQLite, or PostgreSQL at a URL) and a number of replicas (``python -m bot``, each on
its own WEB_PORT, all behind :class:`tests.fakes.balancer.Balancer`, which the fake Bot API in ``--local`` mode
posts every update to). They sell from one fake sms-activate upstream served over HTTP from this process, so
any replica can buy and poll any order. Every user gets a balance in the database before the bots start,
walks ``/buy`` → Indonesia → WhatsApp to the confirmation (not measured), and then all of them tap Confirm at
once: the round's time runs from those taps to the last order card. Each user buys one number, so flood
control and the per-user limits never hold anyone back; ``UPSTREAM_RATE_PER_SECOND`` is set to its maximum
(1000, a quarter of it for buys) because the fake upstream answers at once, and the limiter stays in the path.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from bench.common import WatchedTelegram, cpu_seconds, pid_of
from bench.throughput import Keyboard, answer, button
from storage import ledger, users
from storage.backends import open_store
from tests.botproc import BotProcess
from tests.conftest import free_port
from tests.fakes.balancer import Balancer
from tests.fakes.serve import serve
from tests.fakes.smsactivate import FakeSmsActivate

BOT_ID = 987001  # a bot id of its own: no FSM or lock keys shared with tests on one Redis
TOKEN = f"{BOT_ID}:BENCH-REPLICAS"
SECRET = "bench-replicas-webhook-secret"
KEY = "bench-upstream-key"
BALANCE = 10_000  # minor units each user starts with: one number costs well under it
STEP_TIMEOUT = 120.0
START_TIMEOUT = 180.0


@dataclass(frozen=True)
class Setup:
    name: str  # "sqlite" or "postgresql"
    replicas: int
    postgres_url: str | None = None
    redis_url: str | None = None


@dataclass
class Outcome:
    setup: Setup
    rates: list[float] = field(default_factory=list)  # purchases per second, one per measured round
    cpu_ms: list[float] = field(default_factory=list)  # the replicas' CPU per purchase
    shares: list[float] = field(default_factory=list)  # cores the replicas used together while Confirms ran
    warm_up: int = 0  # purchases before the measured rounds (in the database too)
    bought: int = 0
    failed: int = 0  # Confirms that placed no order, or never answered
    split: list[int] = field(default_factory=list)  # webhook requests each replica answered
    orders_in_db: int = 0
    tracebacks: int = 0
    first_traceback: str = ""  # the first one a replica logged, for the operator to read
    driver_cpu: float = 0.0  # this process's share of a core (fakes, balancer, users)


async def seed_users(folder: Path, setup: Setup, ids: range) -> None:
    """Every buyer with a topped-up balance (a ledger row each), before any bot runs."""
    store = await open_store(folder / "bot.sqlite3", setup.postgres_url, pool_size=1)
    try:
        async with store.transaction() as conn:
            for user_id in ids:
                await users.upsert(conn, user_id, None, "Buyer", "en")
                await ledger.post(conn, user_id=user_id, amount=BALANCE, kind="topup", reference=f"seed:{user_id}")
    finally:
        await store.close()


async def count_orders(folder: Path, setup: Setup) -> int:
    store = await open_store(folder / "bot.sqlite3", setup.postgres_url, pool_size=1)
    try:
        async with store.read() as conn, conn.execute("SELECT count(*) FROM orders") as cur:
            return int((await cur.fetchone())[0])
    finally:
        await store.close()


def replica(folder: Path, setup: Setup, index: int, port: int, hook: str, telegram: str, upstream: str) -> BotProcess:
    proc = BotProcess(
        folder / f"replica{index}",
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=telegram,
        DATABASE_PATH=str(folder / "bot.sqlite3"),
        SMSACTIVATE_API_KEY=KEY,
        SMSACTIVATE_BASE_URL=upstream,
        UPSTREAM_RATE_PER_SECOND="1000",
        WEBHOOK_URL=hook,
        WEBHOOK_SECRET=SECRET,
        WEB_PORT=str(port),
    )
    for name, value in (("DATABASE_URL", setup.postgres_url), ("REDIS_URL", setup.redis_url)):
        proc.env.pop(name, None)  # the operator's own, if any, must not leak in
        if value:
            proc.env[name] = value
    return proc


async def to_confirmation(fake: WatchedTelegram, user_id: int) -> Keyboard | None:
    """/buy, Indonesia, WhatsApp: the confirmation screen's keyboard (None if a step went unanswered)."""
    keyboard: Keyboard | None = None
    steps = (("/buy", None, "Indonesia"), (None, "Indonesia", "WhatsApp"), (None, "WhatsApp", "Confirm"))
    for send, tap, expect in steps:
        query_id = None
        if send is not None:
            fake.send_message(user_id, send)
        else:
            message_id, data = button(keyboard, tap or "")
            query_id = fake.press(user_id, data, message_id=message_id)
        try:
            keyboard = await asyncio.wait_for(answer(fake, user_id, expect, query_id), STEP_TIMEOUT)
        except TimeoutError:
            return None
    return keyboard


async def confirm(fake: WatchedTelegram, user_id: int, keyboard: Keyboard) -> bool:
    """Tap Confirm; True once the order card (its number) replaces the confirmation."""
    message_id, data = button(keyboard, "Confirm")
    fake.press(user_id, data, message_id=message_id)

    async def card() -> bool:
        while True:
            method, params, _ = await fake.next_reply(user_id)
            if method != "answercallbackquery":
                return "Number:" in str(params.get("text", ""))

    try:
        return await asyncio.wait_for(card(), STEP_TIMEOUT)
    except TimeoutError:
        return False


async def buy_round(fake: WatchedTelegram, procs: list[BotProcess], ids: range, outcome: Outcome | None) -> None:
    """Every user of ``ids`` to the confirmation, then all Confirms at once; measured when ``outcome``."""
    screens = await asyncio.gather(*(to_confirmation(fake, user_id) for user_id in ids))
    ready = [(user_id, keyboard) for user_id, keyboard in zip(ids, screens, strict=True) if keyboard is not None]
    cpu, started = sum(cpu_seconds(pid_of(p)) for p in procs), time.perf_counter()
    done = await asyncio.gather(*(confirm(fake, user_id, keyboard) for user_id, keyboard in ready))
    elapsed, cpu = time.perf_counter() - started, sum(cpu_seconds(pid_of(p)) for p in procs) - cpu
    if outcome is None:
        return
    bought = sum(done)
    outcome.bought += bought
    outcome.failed += len(ids) - bought
    if bought:
        outcome.rates.append(bought / elapsed)
        outcome.cpu_ms.append(cpu * 1000 / bought)
        outcome.shares.append(cpu / elapsed)


async def started(fake: WatchedTelegram, upstream: FakeSmsActivate, procs: list[BotProcess]) -> None:
    """Each replica has set the webhook and read the upstream's prices (its catalog is filled)."""
    for proc in procs:
        await proc.start()
    await fake.wait_for(lambda: len(fake.calls_of("setWebhook")) >= len(procs), timeout=START_TIMEOUT)
    await fake.wait_for(lambda: upstream.actions().count("getPrices") >= len(procs), timeout=START_TIMEOUT)


async def measure(folder: Path, setup: Setup, users_per_round: int, rounds: int) -> Outcome:
    """Purchases per second of ``setup``: a warm-up round, then ``rounds`` rounds of new users."""
    warm = max(users_per_round // 10, 2)
    outcome = Outcome(setup, warm_up=warm)
    await seed_users(folder, setup, range(1, warm + rounds * users_per_round + 1))
    upstream = FakeSmsActivate(api_key=KEY, balance="1000000")
    upstream.prices[6]["wa"] = [Decimal("0.12"), 10**9]  # Indonesia, WhatsApp: never sold out
    ports = [free_port() for _ in range(setup.replicas)]
    backends = [f"http://127.0.0.1:{port}" for port in ports]
    async with serve(upstream) as upstream_url, Balancer(backends) as balancer:
        async with WatchedTelegram(token=TOKEN, bot_id=BOT_ID, local=True) as fake:
            hook = f"{balancer.url}/telegram/hook"
            procs = [replica(folder, setup, i, port, hook, fake.url, upstream_url) for i, port in enumerate(ports)]
            try:
                await started(fake, upstream, procs)
                await buy_round(fake, procs, range(1, warm + 1), None)
                driver, clock = os.times(), time.perf_counter()
                for number in range(rounds):
                    first = warm + 1 + number * users_per_round
                    await buy_round(fake, procs, range(first, first + users_per_round), outcome)
                outcome.driver_cpu = (sum(os.times()[:2]) - sum(driver[:2])) / (time.perf_counter() - clock)
            finally:
                for proc in procs:
                    await proc.stop()
    outcome.split = [balancer.served[backend] for backend in backends]
    logs = [proc.output() for proc in procs]
    outcome.tracebacks = sum(log.count("Traceback") for log in logs)
    if at := [(log, log.find("Traceback")) for log in logs if "Traceback" in log]:
        log, start = at[0]
        outcome.first_traceback = log[max(start - 300, 0) : start + 2500]
    outcome.orders_in_db = await count_orders(folder, setup)
    return outcome
