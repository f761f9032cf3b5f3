"""Run the real bot (``python -m bot``) as a child process against local fakes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class BotProcess:
    """The bot's own entry point in a subprocess, configured only through its environment."""

    module = "bot"  # what ``python -m`` runs (a benchmark runs its bare bot the same way)

    def __init__(self, workdir: Path, **env: str) -> None:
        self.workdir = workdir
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.endswith(("_API_KEY", "_BASE_URL")) and key not in ("BOT_TOKEN", "ADMIN_IDS")
        }
        self.env.update(PYTHONPATH=str(ROOT), LOG_LEVEL="INFO", PYTHONUNBUFFERED="1", **env)
        self.proc: asyncio.subprocess.Process | None = None
        self.log = workdir / "bot.log"

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", self.module, cwd=self.workdir, env=self.env, stdout=out, stderr=out
        )
        out.close()

    async def stop(self, sig: int = signal.SIGINT, grace: float = 10.0) -> int | None:
        """Stop it (SIGINT is a graceful stop, SIGKILL a crash); returns the exit status."""
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return await asyncio.wait_for(self.proc.wait(), grace)
        except TimeoutError:
            self.proc.kill()
            return await self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
