"""Helpers shared by benchmarks: a median and its spread, a figure line that ends with the peak memory,
what a child process has used (CPU, resident memory), and the fake Bot API a benchmark drives a bot
process through."""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
from collections import defaultdict
from typing import Any

from tests.botproc import BotProcess
from tests.fakes.telegram import FakeTelegram

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def peak_rss_mib() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], digits: int = 0) -> str:
    """``median (min–max)``, each with ``digits`` decimals."""
    return f"{median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def report(name: str, **figures: object) -> None:
    """Print ``name: key=value, ...`` and, last, this process's peak memory so far as ``peak_rss_mib``."""
    figures["peak_rss_mib"] = f"{peak_rss_mib():.0f}"
    print(f"{name}: " + ", ".join(f"{key}={value}" for key, value in figures.items()), flush=True)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time process ``pid`` has used so far (``/proc/<pid>/stat`` utime + stime)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()  # the name in parentheses may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` now (``VmRSS`` of ``/proc/<pid>/status``)."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def pid_of(proc: BotProcess) -> int:
    assert proc.proc is not None, "not started"
    return proc.proc.pid


def assert_clean(name: str, output: str) -> None:
    """Fail, showing the first traceback, if a bot process's log has one."""
    at = output.find("Traceback")
    assert at < 0, f"{name} logged an error:\n{output[max(at - 500, 0) : at + 4000]}"


async def start_polling(proc: BotProcess, fake: FakeTelegram) -> None:
    """Start ``proc`` and return once it polls ``fake`` for updates (within two minutes: importing aiogram
    alone takes seconds of CPU, and a loaded machine stretches that)."""
    await proc.start()
    await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=120)


class WatchedTelegram(FakeTelegram):
    """The fake Bot API, telling a driver what the bot did in each chat as it happens: a benchmark
    waits on :meth:`next_reply` instead of polling the fake's records. Every successful
    ``sendMessage``, ``editMessageText`` and ``answerCallbackQuery`` is queued per chat (a callback
    answer goes to the chat of the tap, :meth:`press` having noted it)."""

    WATCHED = frozenset({"sendmessage", "editmessagetext", "answercallbackquery"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.replies: defaultdict[int, asyncio.Queue[tuple[str, dict[str, Any], Any]]] = defaultdict(asyncio.Queue)
        self._tapped_in: dict[str, int] = {}  # callback query id -> chat id

    def press(self, user_id: int, callback_data: str, **kwargs: Any) -> str:
        query_id = super().press(user_id, callback_data, **kwargs)
        self._tapped_in[query_id] = kwargs.get("chat_id") or user_id
        return query_id

    async def next_reply(self, chat_id: int) -> tuple[str, dict[str, Any], Any]:
        """(method in lower case, parameters, result) of the bot's next watched call in ``chat_id``."""
        return await self.replies[chat_id].get()

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        result = await super()._call(method, params)
        if method in self.WATCHED:
            chat_id = params.get("chat_id") or self._tapped_in.pop(params.get("callback_query_id", ""), None)
            if isinstance(chat_id, int):
                self.replies[chat_id].put_nowait((method, params, result))
        return result
