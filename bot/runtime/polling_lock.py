"""One long-polling process per PostgreSQL database, for as long as it polls.

Telegram gives updates to one getUpdates at a time (a second poller gets 409 Conflict, and each takes the
other's updates away), and a long-polling process counts itself the only one (it polls every open order),
so several replicas need WEBHOOK_URL. The lock is a session advisory lock (the key
``db.singleton("long-polling")`` would take) on a connection of its own, held until the bot stops: a
process that dies frees it with its session (its host gone: within about a minute, the keep-alives of
:data:`storage.postgres.SERVER_SETTINGS`).

The connection is checked every ``check_every`` seconds. Lost (PostgreSQL restarted, the network cut),
the lock is taken again on a new one; the old session may linger on the server until its keep-alives
end it, so that is retried for ``retake_for`` seconds. If another process took it meanwhile, this one
stops (SIGTERM to itself: the usual graceful stop) and exits 2 with :data:`POLLING_LOST`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

from bot.runtime.logs import shown_url
from bot.runtime.startup import StartupError
from bot.settings import Settings
from storage.postgres import SERVER_SETTINGS, dsn_of, lock_key

logger = logging.getLogger(__name__)

POLLING_TAKEN = "another bot process is long-polling with this database; use WEBHOOK_URL for several replicas"
POLLING_LOST = "stopped: another bot process took the long-polling lock while this one's connection was lost"
CONNECT_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _stop(bot: asyncio.Future[None]) -> None:
    """Stop the bot as SIGTERM does once its handler is installed (the usual graceful stop); before that
    (still starting), SIGTERM would kill the process outright: the bot's task is cancelled instead."""
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        bot.cancel()
    else:
        os.kill(os.getpid(), signal.SIGTERM)


class PollingLock:
    """The "long-polling" session lock on a connection of its own, watched while the bot runs."""

    def __init__(self, url: str, *, check_every: float = 10.0, retake_for: float = 90.0) -> None:
        self.url, self.check_every, self.retake_for = url, check_every, retake_for
        self.conn: asyncpg.Connection | None = None
        self.lost = False  # another process holds it now: this one was told to stop

    async def take(self) -> bool:
        """True once held on a new connection; False if another session holds it. Raises a connect error."""
        conn = await asyncpg.connect(dsn_of(self.url), timeout=30, server_settings=SERVER_SETTINGS)
        try:
            held = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key("long-polling")))
        except BaseException:
            conn.terminate()
            raise
        if not held:
            await asyncio.shield(conn.close())
            return False
        self.conn = conn
        return True

    async def watch(self, stop: Callable[[], None]) -> None:
        """Until cancelled: check the connection; lost, take the lock again, or call ``stop`` if another has it."""
        while True:
            await asyncio.sleep(self.check_every)
            try:
                if await self._alive():
                    continue
                if self.conn is not None:
                    self.conn.terminate()  # the server sees the session end and frees what it held
                    self.conn = None
                if not await self._retake():
                    logger.error(POLLING_LOST)
                    self.lost = True
                    stop()
                    return
            except Exception:  # an unforeseen failure must not leave the lock unwatched: look again
                logger.exception("long-polling lock: checking it failed")

    async def _alive(self) -> bool:
        if self.conn is None:
            return False
        try:
            await asyncio.wait_for(self.conn.fetchval("SELECT 1"), self.check_every)
        except CONNECT_ERRORS as exc:
            logger.warning("long-polling lock: its connection was lost (%s); taking it again", type(exc).__name__)
            return False
        return True

    async def _retake(self) -> bool:
        """The lock again; False once another session has kept it for ``retake_for`` seconds on end (this
        process's own old session may linger on the server that long)."""
        loop = asyncio.get_running_loop()
        refused_since: float | None = None
        while True:
            try:
                if await self.take():
                    logger.info("long-polling lock: taken again")
                    return True
                refused_since = loop.time() if refused_since is None else refused_since
                if loop.time() - refused_since >= self.retake_for:
                    return False
            except CONNECT_ERRORS as exc:  # the server is down: nobody takes it there meanwhile
                refused_since = None
                logger.warning("long-polling lock: PostgreSQL unreachable (%s)", type(exc).__name__)
            await asyncio.sleep(min(self.check_every, 5.0))

    async def release(self) -> None:
        if self.conn is not None:
            await asyncio.shield(self.conn.close())
            self.conn = None


async def alone_if_polling(
    settings: Settings,
    bot: Coroutine[Any, Any, None],
    stop: Callable[[], None] | None = None,
    **timing: float,
) -> None:
    """Run ``bot``; on PostgreSQL in long-polling mode, only while this process holds the "long-polling"
    lock. Taken at the start, it is a StartupError (one line, exit 2); lost for good later, the bot is
    stopped (``stop``, else :func:`_stop`) and it is one too. ``timing``: :class:`PollingLock`'s
    ``check_every`` and ``retake_for``."""
    url = settings.postgres_url
    if url is None or settings.webhook_url:
        return await bot
    lock = PollingLock(url, **timing)
    try:
        held = await lock.take()
    except CONNECT_ERRORS as exc:
        bot.close()
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise StartupError(f"DATABASE_URL cannot be used: PostgreSQL at {shown_url(url)}: {reason}") from None
    if not held:
        bot.close()
        raise StartupError(POLLING_TAKEN)
    running = asyncio.ensure_future(bot)
    watcher = asyncio.create_task(lock.watch(stop or (lambda: _stop(running))))
    try:
        await running
    except asyncio.CancelledError:
        if not (lock.lost and running.cancelled()):
            raise  # cancelled from outside, not by the watcher
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await lock.release()
    if lock.lost:
        raise StartupError(POLLING_LOST)
