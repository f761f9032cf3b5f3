"""``python -m bench.sampled_bot LAGFILE``: the real bot (``python -m bot``) with one task more on its event loop,
measuring how late ``asyncio.sleep(0.01)`` wakes. Each sample is a line ``<time.monotonic()> <lateness s>`` in
LAGFILE; the monotonic clock is the machine's, so the benchmark reads the samples of its own time window.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.botproc import BotProcess

TICK = 0.01  # seconds each sample sleeps
FLUSH = 1.0  # seconds of samples written at once
MODULE = "bench.sampled_bot"


async def sample(out: Path) -> None:
    """Sleep ``TICK`` again and again; note each wake-up's lateness."""
    loop = asyncio.get_running_loop()
    lines: list[str] = []
    flushed = loop.time()
    try:
        while True:
            before = loop.time()
            await asyncio.sleep(TICK)
            now = loop.time()
            lines.append(f"{now:.6f} {now - before - TICK:.6f}\n")
            if now - flushed >= FLUSH:
                with out.open("a") as file:
                    file.writelines(lines)
                lines, flushed = [], now
    finally:
        with out.open("a") as file:
            file.writelines(lines)


def read_lag(path: Path, start: float, end: float) -> list[tuple[float, float]]:
    """The samples taken between the monotonic times ``start`` and ``end``: (when, seconds late)."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        at, _, late = line.partition(" ")
        if late and start <= float(at) <= end:
            found.append((float(at), float(late)))
    return found


class SampledBot(BotProcess):
    """:class:`tests.botproc.BotProcess`, started through this module so its loop is sampled into ``lag_file``."""

    def __init__(self, workdir: Path, lag_file: Path, **env: str) -> None:
        super().__init__(workdir, **env)
        self.lag_file = lag_file

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", MODULE, str(self.lag_file), cwd=self.workdir, env=self.env, stdout=out, stderr=out
            )


def main() -> None:
    """The bot's own entry point, its ``run`` wrapped to start the sampler beside it."""
    import bot.app
    from bot.__main__ import main as bot_main
    from bot.settings import Settings

    out = Path(sys.argv[1])
    serve_bot = bot.app.run

    async def sampled(settings: Settings) -> None:
        sampler = asyncio.create_task(sample(out))
        try:
            await serve_bot(settings)
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)

    bot.app.run = sampled  # bot.__main__ imports run from bot.app when it starts
    bot_main([])  # run; this module's own argument (the lag file) is not a bot command


if __name__ == "__main__":
    main()
