"""The bot's own HTTP server: ``/healthz`` (the process is up) and ``/readyz`` (it can serve).

It listens on WEB_HOST : WEB_PORT. Readiness is a set of named checks, each a
function answering ``(ok, detail)`` at once or as a coroutine (the checks themselves:
:mod:`bot.runtime.readiness`); ``/readyz`` answers 200 when every one is ok, else 503, and its JSON
body names each check with its state:

    {"ready": false, "checks": {"telegram": {"ok": false, "detail": "not reached yet"}, ...}}

One server carries all the bot serves over HTTP: these two, ``/metrics`` and, in webhook mode, the
webhook route at WEBHOOK_URL's path (:mod:`bot.runtime.webhook`), each added to :attr:`HealthServer.app`
(a plain ``aiohttp.web.Application``) before :meth:`HealthServer.start`. In polling mode it runs only
when WEB_PORT is set; in webhook mode always (on port 8080 when WEB_PORT is unset).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

logger = logging.getLogger(__name__)

#: a readiness check: (ok, what to say about it), answered at once or awaited
Check = Callable[[], tuple[bool, str] | Awaitable[tuple[bool, str]]]
#: a check that has not answered within this many seconds is a failing check
CHECK_TIMEOUT = 5.0


class ServerUnavailable(RuntimeError):
    """WEB_HOST / WEB_PORT cannot be listened on (in use, no such address, not allowed)."""

    def __init__(self, message: str, errno: int | None) -> None:
        super().__init__(message)
        self.errno = errno


class Readiness:
    """Named readiness checks, asked on every ``/readyz``, each bounded by ``timeout`` seconds."""

    def __init__(self, timeout: float = CHECK_TIMEOUT) -> None:
        self._checks: dict[str, Check] = {}
        self.timeout = timeout

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    async def report(self) -> tuple[bool, dict[str, dict[str, object]]]:
        results: dict[str, dict[str, object]] = {}
        for name, check in self._checks.items():
            ok, detail = await self._ask(check)
            results[name] = {"ok": ok, "detail": detail}
        return all(r["ok"] for r in results.values()), results

    async def _ask(self, check: Check) -> tuple[bool, str]:
        """A broken or hanging check is a failing check, never a 500 nor a hung probe."""
        try:
            answer = check()
            if inspect.isawaitable(answer):
                answer = await asyncio.wait_for(answer, self.timeout)
            ok, detail = answer
        except TimeoutError:
            return False, f"no answer within {self.timeout:g} s"
        except Exception as exc:
            logger.warning("readiness check failed: %r", exc)
            return False, f"check failed: {type(exc).__name__}"
        return bool(ok), str(detail)


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
        paths = sorted({route.resource.canonical for route in self.app.router.routes() if route.resource})
        logger.info("HTTP server on http://%s:%s (%s)", self.host, self.port, ", ".join(paths))

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def _readyz(self, request: web.Request) -> web.Response:
        ready, checks = await self.readiness.report()
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)
