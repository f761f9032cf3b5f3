"""Getting through the start: reaching Telegram with patience, and failures that end it in one line.

Telegram unreachable at start (network down, a self-hosted Bot API server still starting) is not a
reason to exit: a supervisor would restart the bot into the same wall, in a crash loop. Instead
:func:`wait_for_telegram` asks ``getMe`` again after 1, 2, 4 … seconds, capped at
TELEGRAM_RETRY_MAX_SECONDS, one log line per attempt. Only an answer that retrying cannot change
(the token refused) ends the start, as a :class:`StartupError`: one line, exit status 2.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
from contextlib import suppress
from typing import TYPE_CHECKING

import asyncpg
from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import User

from bot.runtime.database_check import shown_url
from bot.runtime.health import HealthServer, Readiness, ServerUnavailable
from bot.runtime.metrics import PAGE
from bot.settings import Settings
from storage.backends import Store, open_store

if TYPE_CHECKING:
    from bot.runtime.webhook import WebhookEndpoint

logger = logging.getLogger(__name__)

FIRST_DELAY = 1.0
#: what stops the bot gracefully
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StartupError(Exception):
    """The start cannot go on; ``str()`` is the one line to print, naming the setting at fault."""


def _reason(exc: BaseException) -> str:
    text = str(exc).removeprefix("Telegram server says - ").removeprefix("HTTP Client says - ")
    return " ".join(text.split()) or type(exc).__name__


async def wait_for_telegram(
    bot: Bot,
    *,
    api_url: str,
    max_delay: float,
    stop: asyncio.Event,
    first_delay: float = FIRST_DELAY,
) -> User | None:
    """``getMe`` until Telegram answers; the bot's user, or None if ``stop`` was set first.

    Raises :class:`StartupError` when Telegram refuses the token (401, or 404: no such bot).
    """
    delay, attempt = first_delay, 0
    while not stop.is_set():
        attempt += 1
        call = asyncio.ensure_future(bot.me())
        halt = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({call, halt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halt.cancel()
        if not call.done():
            call.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await call
            return None
        try:
            me = call.result()
        except TelegramUnauthorizedError:
            raise StartupError(
                f"BOT_TOKEN is refused by Telegram at {api_url} (401 Unauthorized): "
                "take the current token from @BotFather (/token)"
            ) from None
        except TelegramNotFound:
            raise StartupError(
                f"BOT_TOKEN is unknown to the Bot API at {api_url} (404 Not Found): check the token from "
                "@BotFather, and that TELEGRAM_API_URL is a Bot API server"
            ) from None
        except (TelegramAPIError, OSError, TimeoutError) as exc:
            wait = delay
            if isinstance(exc, TelegramRetryAfter):
                wait = max(wait, float(exc.retry_after))
            reason = _reason(exc)
            logger.warning(
                "Telegram is not reachable at %s (attempt %d): %s; next try in %g s", api_url, attempt, reason, wait
            )
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            delay = min(delay * 2, max_delay)
            continue
        if attempt > 1:
            logger.info("Telegram answered after %d attempts", attempt)
        return me
    return None


async def start_health_server(
    settings: Settings, readiness: Readiness, webhook: WebhookEndpoint | None = None
) -> HealthServer:
    """The bot's one HTTP server (health, /metrics, the webhook), listening; a port it cannot take is a
    :class:`StartupError` naming WEB_PORT or WEB_HOST."""
    server = HealthServer(readiness, settings.web_host, settings.listen_port or 0)
    if webhook is not None:
        webhook.register(server.app)  # the webhook on the same server
    PAGE.serve(server.app)  # /metrics on the same server
    try:
        await server.start()
    except ServerUnavailable as exc:
        setting = "WEB_PORT" if exc.errno in (errno.EADDRINUSE, errno.EACCES) else "WEB_HOST"
        raise StartupError(f"{setting} is invalid: {exc}") from None
    return server


async def reach_telegram(bot: Bot, settings: Settings) -> User | None:
    """getMe until it answers (see :func:`wait_for_telegram`); None if SIGINT / SIGTERM came first."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        return await wait_for_telegram(
            bot, api_url=settings.telegram_api_url, max_delay=settings.telegram_retry_max_seconds, stop=stop
        )
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)


async def open_database(settings: Settings) -> Store:
    """The bot's database, migrated: the SQLite file (already probed by ``bot.__main__``), or PostgreSQL at
    DATABASE_URL, where a server that refuses or does not answer is a :class:`StartupError` (its URL shown
    with the password masked) rather than a traceback."""
    url = settings.postgres_url
    if url is None:
        return await open_store(settings.database_path)
    try:
        db = await open_store(settings.database_path, url, pool_size=settings.database_pool_size)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, RuntimeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise StartupError(f"DATABASE_URL cannot be used: PostgreSQL at {shown_url(url)}: {reason}") from None
    logger.info("database: PostgreSQL at %s, %d connections at most", shown_url(url), settings.database_pool_size)
    return db
