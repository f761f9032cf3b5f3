"""Updates per second and CPU per update of the shop beside a bare aiogram bot, at saturation.

Both run as their own processes against their own fake Bot API (``tests/fakes/telegram.py``, in this
process, answering at once): the shop is the real ``python -m bot`` with the demo upstream, default
settings (flood control, the upstream rate limiter, logging at INFO) and its database on disk; the
bare bot is ``bench/bare_bot.py``, a 10-button keyboard for every message and an edit for every tap.
The load, per round: ``BENCH_THROUGHPUT_USERS`` (default 200) new users at once, each writing
/start, then /buy, then tapping a country and then a service (on the bare bot: two of its buttons),
each step sent when the bot's answer to the previous one arrived. With 200 users waiting, the bot
always has work: its rate is its saturation rate. Rounds alternate bare, shop, bare, shop, ...
(``BENCH_THROUGHPUT_ROUNDS`` each, default 5, after an unmeasured warm-up round), so load from
elsewhere on the machine hits both alike.

Figures, as median (min–max) over the rounds: updates per second (updates answered / wall time of the
round) and CPU milliseconds per update (user + system time of the bot's process, from
``/proc/<pid>/stat``), then the ratios shop/bare beside the goal: throughput ≥ 1.0×, CPU ≤ 1.0×.
``*_core_share`` is the share of a core each bot used while its rounds ran: near 1.0 at saturation
on an idle machine. Well under it, other load on the machine held the bot back; updates per second
then tell more about the machine than about the bot, and CPU per update is the figure to trust.
``driver_cpu`` is this process's share of a core while it drove the rounds (the fakes and the users):
near 1.0 it, not the bot, would be the bottleneck.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import WatchedTelegram, assert_clean, cpu_seconds, median, pid_of, report, spread, start_polling
from tests.botproc import BotProcess

USERS = int(os.environ.get("BENCH_THROUGHPUT_USERS", "200"))
ROUNDS = max(int(os.environ.get("BENCH_THROUGHPUT_ROUNDS", "5")), 1)
TOKEN = "123456:BENCH"
STEP_TIMEOUT = 60.0
#: (country, service) button labels of the demo catalog, one pair per user in turn
SHOP_PICKS = [("United States", "WhatsApp"), ("Indonesia", "Telegram"), ("India", "Google"), ("Brazil", "Instagram")]


@dataclass(frozen=True)
class Step:
    """Write ``send``, or tap the newest button labelled ``tap``; done when a keyboard holding a button
    labelled ``expect`` arrives (and the tap is answered)."""

    send: str | None
    tap: str | None
    expect: str


def shop_steps(user_id: int) -> list[Step]:
    country, service = SHOP_PICKS[user_id % len(SHOP_PICKS)]
    return [
        Step("/start", None, "Buy a number"),
        Step("/buy", None, country),
        Step(None, country, service),
        Step(None, service, "Back"),  # Confirm too, if the user had the balance
    ]


def bare_steps(user_id: int) -> list[Step]:
    first, second = user_id % 10, (user_id + 1) % 10
    return [Step("/start", None, "Option"), Step("/buy", None, "Option")] + [
        Step(None, f"Option {n}", "Option") for n in (first, second)
    ]


Keyboard = tuple[int, list[list[dict[str, Any]]]]  # message id, rows of buttons


def button(keyboard: Keyboard | None, label: str) -> tuple[int, str]:
    assert keyboard is not None, "no keyboard to tap on"
    message_id, rows = keyboard
    data = next(b["callback_data"] for row in rows for b in row if label in b["text"] and "callback_data" in b)
    return message_id, data


async def answer(fake: WatchedTelegram, user_id: int, expect: str, query_id: str | None) -> Keyboard:
    """Wait for the keyboard holding ``expect`` in ``user_id``'s chat and, for a tap, its answer."""
    found: Keyboard | None = None
    answered = query_id is None
    while found is None or not answered:
        method, params, result = await fake.next_reply(user_id)
        if method == "answercallbackquery":
            answered = answered or params.get("callback_query_id") == query_id
        elif isinstance(result, dict) and (rows := result.get("reply_markup", {}).get("inline_keyboard")):
            if any(expect in b["text"] for row in rows for b in row):
                found = (result["message_id"], rows)
    return found


async def walk(fake: WatchedTelegram, user_id: int, steps: list[Step]) -> int:
    """One user's steps in order; how many were answered (the rest timed out)."""
    keyboard: Keyboard | None = None
    for done, step in enumerate(steps):
        query_id = None
        if step.send is not None:
            fake.send_message(user_id, step.send)
        else:
            message_id, data = button(keyboard, step.tap or "")
            query_id = fake.press(user_id, data, message_id=message_id)
        try:
            keyboard = await asyncio.wait_for(answer(fake, user_id, step.expect, query_id), STEP_TIMEOUT)
        except TimeoutError:
            return done
    return len(steps)


@dataclass
class Contender:
    name: str
    proc: BotProcess
    fake: WatchedTelegram
    steps: Callable[[int], list[Step]]
    rates: list[float]
    cpu_ms: list[float]
    shares: list[float]  # of one core, used by the bot while a round ran
    unanswered: int = 0

    async def round(self, users: range, measured: bool = True) -> None:
        pid = pid_of(self.proc)
        cpu, started = cpu_seconds(pid), time.perf_counter()
        answered = await asyncio.gather(*(walk(self.fake, user, self.steps(user)) for user in users))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
        updates = sum(answered)
        self.unanswered += sum(len(self.steps(user)) for user in users) - updates
        if measured and updates:
            self.rates.append(updates / elapsed)
            self.cpu_ms.append(cpu * 1000 / updates)
            self.shares.append(cpu / elapsed)


class BareBotProcess(BotProcess):
    module = "bench.bare_bot"


async def contenders(folder: Path, bare_fake: WatchedTelegram, shop_fake: WatchedTelegram) -> list[Contender]:
    common = {"BOT_TOKEN": TOKEN}
    bare = BareBotProcess(folder / "bare", TELEGRAM_API_URL=bare_fake.url, **common)
    shop = BotProcess(
        folder / "shop",
        TELEGRAM_API_URL=shop_fake.url,
        DATABASE_PATH=str(folder / "shop" / "bot.sqlite3"),
        DEMO_PROVIDER="on",
        **common,
    )
    return [
        Contender("bare", bare, bare_fake, bare_steps, [], [], []),
        Contender("shop", shop, shop_fake, shop_steps, [], [], []),
    ]


async def main(users: int = USERS, rounds: int = ROUNDS) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with WatchedTelegram(token=TOKEN) as bare_fake, WatchedTelegram(token=TOKEN) as shop_fake:
            bots = await contenders(Path(tmp), bare_fake, shop_fake)
            try:
                for bot in bots:
                    await start_polling(bot.proc, bot.fake)
                    await bot.round(range(1, max(users // 10, 2) + 1), measured=False)  # warm-up
                driver, started = os.times(), time.perf_counter()
                for number in range(rounds):
                    first = 1_000_000 * (number + 1)  # new users every round
                    for bot in bots:
                        await bot.round(range(first, first + users))
                driver_cpu = (sum(os.times()[:2]) - sum(driver[:2])) / (time.perf_counter() - started)
            finally:
                for bot in bots:
                    await bot.proc.stop()
            logs = {bot.name: bot.proc.output() for bot in bots}
    for name, output in logs.items():
        assert_clean(name, output)
    bare, shop = bots
    throughput = median(shop.rates) / median(bare.rates)
    cpu = median(shop.cpu_ms) / median(bare.cpu_ms)
    report(
        "throughput",
        users=users,
        rounds_each=rounds,
        bare_updates_per_s=spread(bare.rates),
        shop_updates_per_s=spread(shop.rates),
        bare_cpu_ms_per_update=spread(bare.cpu_ms, 2),
        shop_cpu_ms_per_update=spread(shop.cpu_ms, 2),
        ratio_throughput=f"{throughput:.2f} (goal ≥ 1.0)",
        ratio_cpu_per_update=f"{cpu:.2f} (goal ≤ 1.0)",
        bare_core_share=spread(bare.shares, 2),
        shop_core_share=spread(shop.shares, 2),
        unanswered=bare.unanswered + shop.unanswered,
        driver_cpu=f"{driver_cpu:.2f}",
    )


if __name__ == "__main__":
    asyncio.run(main())
