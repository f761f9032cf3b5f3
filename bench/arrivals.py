"""SMS arriving upstream at planned times while the real bot follows thousands of open orders; when each code
message reached the fake Bot API.

The bot is ``python -m bot`` in a child process (:mod:`bench.sampled_bot`, which also samples its event loop's
lag), configured only through its environment: the fake Telegram and the fake upstream are served on
127.0.0.1 from this process, so the bot's status reads go through its real adapter and its real rate limiter.
A code's latency is the fake Bot API's arrival time of the ``sendMessage`` carrying it minus the moment the
SMS reached the fake upstream, both on this process's clock.
"""

from __future__ import annotations

import asyncio
import math
import random
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.open_orders import SIDES, Seeded, seed
from bench.sampled_bot import SampledBot, read_lag
from tests.fakes.serve import serve
from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:BENCH-TOKEN"
FRESH = 300.0  # seconds: an order younger than this is "fresh" (checked every interval)
START_PATIENCE = 180.0  # seconds the bot may take to start


@dataclass(frozen=True)
class Scenario:
    upstream: str  # a key of bench.open_orders.SIDES
    orders: int
    sms: int  # how many SMS arrive, one per order, at times spread evenly over ``window``
    window: float  # seconds
    interval: float = 5.0  # POLL_INTERVAL_SECONDS
    rate: float = 20.0  # UPSTREAM_RATE_PER_SECOND
    max_age: float = 16 * 60  # orders' ages at the start, uniform up to this (they expire at 20 min)
    fresh_share: float = 0.8  # share of the SMS sent to orders a few minutes old, when most codes arrive
    patience: float = 90.0  # seconds after the last arrival allowed for the codes still undelivered
    seed: int = 11


@dataclass
class Code:
    order: Seeded
    code: str
    offset: float  # seconds after the start of the window
    arrived: float | None = None  # loop time the SMS reached the fake upstream
    age: float = 0.0  # the order's age then, seconds
    sent: float | None = None  # loop time the bot's sendMessage carrying the code reached the fake Bot API

    @property
    def latency(self) -> float:
        """Seconds from upstream to Telegram; infinite for a code never sent."""
        if self.arrived is None or self.sent is None:
            return math.inf
        return self.sent - self.arrived


@dataclass
class Outcome:
    scenario: Scenario
    codes: list[Code]
    lag: list[float] = field(default_factory=list)  # the bot loop's lateness samples, seconds
    worst_lag_at: float = math.nan  # seconds after the bot's first getUpdates that the worst one ended
    tracebacks: int = 0  # in the bot's output
    overran: bool = False  # the bot logged a poll run that could not keep up with its interval

    def latencies(self, fresh: bool | None = None) -> list[float]:
        """Every code's latency, or only fresh (True) or older (False) orders'."""
        return [c.latency for c in self.codes if fresh is None or (c.age < FRESH) == fresh]

    @property
    def delivered(self) -> int:
        return sum(c.sent is not None for c in self.codes)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (``share`` 0.99 for p99); NaN for no values."""
    if not values:
        return math.nan
    ranked = sorted(values)
    return ranked[max(math.ceil(share * len(ranked)) - 1, 0)]


def plan(orders: list[Seeded], scenario: Scenario, rng: random.Random) -> list[Code]:
    """Which orders get an SMS and when: ``fresh_share`` of them among orders under three minutes old."""
    now = datetime.now(UTC)
    young = [o for o in orders if (now - o.created).total_seconds() < 180]
    fresh = rng.sample(young, min(len(young), round(scenario.sms * scenario.fresh_share)))
    rest = rng.sample([o for o in orders if o not in set(fresh)], scenario.sms - len(fresh))
    chosen = fresh + rest
    rng.shuffle(chosen)
    step = scenario.window / max(scenario.sms - 1, 1)
    return [Code(order, f"{700000 + i * 7:06d}", i * step) for i, order in enumerate(chosen)]


def match_sent(telegram: FakeTelegram, waiting: dict[int, Code], seen: int) -> int:
    """Note which waiting codes the bot has sent since call ``seen``; the number of calls read."""
    calls, times = telegram.calls, telegram.call_times
    end = len(calls)
    for index in range(seen, end):
        call = calls[index]
        if call.method.lower() != "sendmessage":
            continue
        code = waiting.get(call.params.get("chat_id"))  # type: ignore[arg-type]
        if code is not None and code.arrived is not None and code.code in str(call.params.get("text", "")):
            code.sent = times[index]
            del waiting[code.order.user_id]
    return end


async def run(scenario: Scenario) -> Outcome:
    """Seed the orders, start the bot, let the SMS arrive, and time each code until all are sent or patience ends."""
    rng = random.Random(scenario.seed)
    side = SIDES[scenario.upstream]()
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory(prefix="bench-codes-") as tmp:
        work = Path(tmp)
        orders = await seed(work / "bot.sqlite3", side, scenario.orders, scenario.max_age, rng)
        codes = plan(orders, scenario, rng)
        async with FakeTelegram(token=TOKEN) as telegram, serve(side.fake) as url:
            bot = SampledBot(
                work / "run", work / "lag.txt", BOT_TOKEN=TOKEN, TELEGRAM_API_URL=telegram.url,
                DATABASE_PATH=str(work / "bot.sqlite3"), DEMO_PROVIDER="off",
                POLL_INTERVAL_SECONDS=str(scenario.interval), UPSTREAM_RATE_PER_SECOND=str(scenario.rate),
                **side.env(url),
            )  # fmt: skip
            await bot.start()
            try:
                await telegram.wait_for(lambda: telegram.calls_of("getUpdates"), timeout=START_PATIENCE)
                ready = loop.time()
                start = ready + 2 * scenario.interval  # arrivals begin once polling has run a little

                def arrive(code: Code) -> None:
                    side.arrive(code.order.upstream_id, code.code)
                    code.arrived = loop.time()
                    code.age = (datetime.now(UTC) - code.order.created).total_seconds()

                for code in codes:
                    loop.call_at(start + code.offset, arrive, code)
                waiting = {c.order.user_id: c for c in codes}
                deadline, seen = start + scenario.window + scenario.patience, 0
                while waiting and loop.time() < deadline:
                    await asyncio.sleep(0.05)
                    seen = match_sent(telegram, waiting, seen)
                end = loop.time()
            finally:
                await bot.stop()
        samples = read_lag(bot.lag_file, ready, end)
        worst = max(samples, key=lambda sample: sample[1], default=(math.nan, math.nan))[0] - ready
        lag = [late for _, late in samples]
        output = bot.output()
        return Outcome(scenario, codes, lag, worst, output.count("Traceback"), "poll run cannot keep up" in output)
