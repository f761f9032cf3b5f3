"""Webhook mode: Telegram posts each update to WEBHOOK_URL, whose path the bot's own HTTP server serves.

The route is registered on the health server's application before it listens (an aiohttp router is
frozen once the server runs), which is before the dispatcher exists: until :meth:`WebhookEndpoint.attach`
and again after :meth:`WebhookEndpoint.close` (shutdown began) it answers 503, and Telegram delivers the
update again later. A request without the right ``X-Telegram-Bot-Api-Secret-Token`` is refused with 401
before anything reads it; the first refusal is logged as a warning, later ones only counted (a scanner
must not fill the log), and the count is logged at shutdown. Neither the secret nor the header's value
is ever logged.

Updates are handled in the background (aiogram's ``SimpleRequestHandler``): Telegram gets its 200 at
once, and shutdown waits for the handling through :class:`bot.runtime.shutdown.InFlight`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramRetryAfter
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.runtime.startup import SIGNALS, StartupError
from bot.settings import Settings

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: attempts at setWebhook / deleteWebhook when Telegram is briefly unreachable right after getMe
ATTEMPTS = 5


def webhook_path(url: str) -> str:
    """The path of WEBHOOK_URL, which the server serves ("/" when the URL has none)."""
    return urlsplit(url).path or "/"


class WebhookEndpoint:
    """The webhook route: checks the secret token, then hands the update to the dispatcher."""

    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self.secret = secret
        self._handler: SimpleRequestHandler | None = None
        self.refused = 0  # requests without the right secret token

    def register(self, app: web.Application) -> None:
        app.router.add_post(webhook_path(self.url), self.handle)

    def attach(self, dispatcher: Dispatcher, bot: Bot) -> None:
        """From now on updates are handled (the dispatcher's start-up has run)."""
        self._handler = SimpleRequestHandler(dispatcher, bot, handle_in_background=True, secret_token=self.secret)

    def close(self) -> None:
        """Shutdown began: no more updates are taken (503: Telegram keeps them for the next start)."""
        self._handler = None
        if self.refused:
            logger.info("webhook refused %d requests without the right secret token", self.refused)

    async def handle(self, request: web.Request) -> web.Response:
        if not secrets.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), self.secret.encode()):
            self.refused += 1
            if self.refused == 1:
                missing = SECRET_HEADER not in request.headers
                logger.warning(
                    "webhook request from %s refused (401): %s secret token; further refusals are only counted",
                    request.remote,
                    "no" if missing else "a wrong",
                )
            return web.Response(status=401, text="Unauthorized")
        if self._handler is None:
            return web.Response(status=503, text="Not taking updates", headers={"Retry-After": "1"})
        return await self._handler.handle(request)


def webhook_endpoint(settings: Settings) -> WebhookEndpoint | None:
    """The webhook route in webhook mode (WEBHOOK_URL set; the settings require WEBHOOK_SECRET with it)."""
    if not settings.webhook_url or settings.webhook_secret is None:
        return None
    return WebhookEndpoint(settings.webhook_url, settings.webhook_secret.get_secret_value())


async def serve_webhook(dp: Dispatcher, bot: Bot, endpoint: WebhookEndpoint) -> None:
    """Webhook mode until SIGINT / SIGTERM: start-up, the route takes updates, setWebhook; at the signal
    the route refuses updates (503) and the dispatcher's shutdown lets the ones under way finish."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    data = {**dp.workflow_data, "dispatcher": dp, "bot": bot, "bots": (bot,)}  # what polling passes
    try:
        await dp.emit_startup(**data)
        try:
            endpoint.attach(dp, bot)  # before setWebhook: updates Telegram already holds may come at once
            await set_webhook(bot, endpoint.url, endpoint.secret, dp.resolve_used_update_types())
            await stop.wait()
            logger.info("stopping: the webhook takes no more updates")
        finally:
            endpoint.close()
            await dp.emit_shutdown(**data)
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)


async def set_webhook(bot: Bot, url: str, secret: str, allowed_updates: list[str]) -> None:
    """setWebhook with the bot's update types, keeping what Telegram holds for the bot.

    Raises :class:`StartupError` naming WEBHOOK_URL when Telegram refuses it (a bad URL, a port it does
    not post to, a certificate it cannot verify)."""
    try:
        await _patiently(
            lambda: bot.set_webhook(
                url, secret_token=secret, allowed_updates=allowed_updates, drop_pending_updates=False
            ),
            "setWebhook",
        )
    except TelegramBadRequest as exc:
        reason = str(exc).removeprefix("Telegram server says - ")
        raise StartupError(f"WEBHOOK_URL {url} is refused by Telegram (setWebhook): {reason}") from None
    logger.info("webhook set: Telegram posts updates (%s) to %s", ", ".join(allowed_updates), url)


async def delete_webhook(bot: Bot) -> None:
    """deleteWebhook before long polling (getUpdates is refused while a webhook is set); updates are kept."""
    await _patiently(lambda: bot.delete_webhook(drop_pending_updates=False), "deleteWebhook")


async def _patiently(call: Callable[[], Awaitable[object]], method: str) -> None:
    """``call()`` again after 1, 2, 4 … s while Telegram is unreachable; a refusal (400) is raised at once."""
    delay = 1.0
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await call()
            return
        except TelegramBadRequest:
            raise
        except (TelegramAPIError, OSError, TimeoutError) as exc:
            if attempt == ATTEMPTS:
                raise StartupError(f"TELEGRAM_API_URL did not answer {method} after {ATTEMPTS} attempts") from None
            wait = max(delay, float(exc.retry_after)) if isinstance(exc, TelegramRetryAfter) else delay
            logger.warning("%s failed (attempt %d): %s; next try in %g s", method, attempt, type(exc).__name__, wait)
            await asyncio.sleep(wait)
            delay *= 2
