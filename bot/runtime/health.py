"""The bot's own HTTP server: ``/healthz`` (the process is up) and ``/readyz`` (it can serve).

It runs only when WEB_PORT is set, on WEB_HOST. Readiness is a set of named checks, each a
function answering ``(ok, detail)``; ``/readyz`` answers 200 when every one is ok, else 503, and
its JSON body names each check with its state:

    {"ready": false, "checks": {"telegram": {"ok": false, "detail": "not reached yet"}, ...}}

The server is meant to grow: :attr:`HealthServer.app` is a plain ``aiohttp.web.Application`` to
which more routes (a webhook, metrics) can be added before :meth:`HealthServer.start`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

logger = logging.getLogger(__name__)

#: a readiness check: (ok, what to say about it)
Check = Callable[[], tuple[bool, str]]


class ServerUnavailable(RuntimeError):
    """WEB_HOST / WEB_PORT cannot be listened on (in use, no such address, not allowed)."""

    def __init__(self, message: str, errno: int | None) -> None:
        super().__init__(message)
        self.errno = errno


class Readiness:
    """Named readiness checks, asked on every ``/readyz``."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def report(self) -> tuple[bool, dict[str, dict[str, object]]]:
        results: dict[str, dict[str, object]] = {}
        for name, check in self._checks.items():
            try:
                ok, detail = check()
            except Exception as exc:  # a broken check is a failing check, never a 500
                ok, detail = False, f"check failed: {type(exc).__name__}"
            results[name] = {"ok": ok, "detail": detail}
        return all(r["ok"] for r in results.values()), results


class Flag:
    """A readiness check that is false until :meth:`set`, e.g. "Telegram has answered"."""

    def __init__(self, waiting: str, done: str = "ok") -> None:
        self.ok = False
        self.detail = waiting
        self._done = done

    def set(self, detail: str | None = None) -> None:
        self.ok, self.detail = True, detail or self._done

    def unset(self, detail: str) -> None:
        self.ok, self.detail = False, detail

    def __call__(self) -> tuple[bool, str]:
        return self.ok, self.detail


class HealthServer:
    def __init__(self, readiness: Readiness, host: str, port: int) -> None:
        self.readiness = readiness
        self.host, self.port = host, port
        self.app = web.Application()
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/readyz", self._readyz)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen, or raise :class:`ServerUnavailable` with a one-line reason."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            reason = exc.strerror or str(exc)
            raise ServerUnavailable(f"cannot listen on {self.host}:{self.port}: {reason}", exc.errno) from None
        logger.info("health server on http://%s:%s (/healthz, /readyz)", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def _readyz(self, request: web.Request) -> web.Response:
        ready, checks = self.readiness.report()
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)
