"""Webhook mode: Telegram posts each update to WEBHOOK_URL, whose path the bot's own HTTP server serves.

The route is registered on the health server's application before it listens (an aiohttp router is
frozen once the server runs), which is before the dispatcher exists: until :meth:`WebhookEndpoint.attach`
and again after :meth:`WebhookEndpoint.close` (shutdown began) it answers 503, and Telegram delivers the
update again later. A request without the right ``X-Telegram-Bot-Api-Secret-Token`` is refused with 401
before anything reads it; the first refusal is logged as a warning, later ones only counted (a scanner
must not fill the log), and the count is logged at shutdown. Neither the secret nor the header's value
is ever logged.

Updates are handled in the background: Telegram gets its 200 once the update is read, and shutdown
waits, through :class:`bot.runtime.shutdown.InFlight`, both for requests still being read and for the
task handling each update (created and tracked here, so none starts after the drain looked).

setWebhook and deleteWebhook are retried, like getMe at start, until Telegram answers or a signal stops
the start: a Bot API blip must not end the bot (exit 2 means "do not restart" to the supervisor). Only
a refusal (400: a bad URL, a port Telegram does not post to) ends the start.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiohttp import web

from bot.runtime.shutdown import InFlight
from bot.runtime.startup import FIRST_DELAY, SIGNALS, StartupError
from bot.settings import Settings

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_path(url: str) -> str:
    """The path of WEBHOOK_URL, which the server serves ("/" when the URL has none)."""
    return urlsplit(url).path or "/"


class WebhookEndpoint:
    """The webhook route: checks the secret token, then hands the update to the dispatcher."""

    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self.secret = secret
        self._target: tuple[Dispatcher, Bot, InFlight] | None = None
        self.refused = 0  # requests without the right secret token

    def register(self, app: web.Application) -> None:
        app.router.add_post(webhook_path(self.url), self.handle)

    def attach(self, dispatcher: Dispatcher, bot: Bot, in_flight: InFlight) -> None:
        """From now on updates are handled (the dispatcher's start-up has run)."""
        self._target = (dispatcher, bot, in_flight)

    def close(self) -> None:
        """Shutdown began: no more updates are taken (503: Telegram keeps them for the next start)."""
        self._target = None
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
        if self._target is None:
            return _not_taking()
        dp, bot, in_flight = self._target
        with in_flight.arriving():  # the drain waits for the body, then for the task below
            update = await request.json(loads=bot.session.json_loads)
            if in_flight.closed:  # the drain is over (its grace ran out while this was read)
                return _not_taking()
            in_flight.track(asyncio.create_task(_feed(dp, bot, update)))
        return web.json_response({}, dumps=bot.session.json_dumps)


def _not_taking() -> web.Response:
    return web.Response(status=503, text="Not taking updates", headers={"Retry-After": "1"})


async def _feed(dp: Dispatcher, bot: Bot, update: dict[str, Any]) -> None:
    """One update's whole handling, as aiogram's background webhook handling does it."""
    try:
        result = await dp.feed_raw_update(bot, update)
        if isinstance(result, TelegramMethod):
            await dp.silent_call_request(bot=bot, result=result)
    except Exception:
        logger.exception("webhook update %s could not be handled", update.get("update_id"))


def webhook_endpoint(settings: Settings) -> WebhookEndpoint | None:
    """The webhook route in webhook mode (WEBHOOK_URL set; the settings require WEBHOOK_SECRET with it)."""
    if not settings.webhook_url or settings.webhook_secret is None:
        return None
    return WebhookEndpoint(settings.webhook_url, settings.webhook_secret.get_secret_value())


@contextmanager
def _signals_set(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT / SIGTERM set ``stop`` while inside."""
    loop = asyncio.get_running_loop()
    for sig in SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)


async def serve_webhook(dp: Dispatcher, bot: Bot, endpoint: WebhookEndpoint, retry_max: float) -> None:
    """Webhook mode until SIGINT / SIGTERM: start-up, the route takes updates, setWebhook; at the signal
    the route refuses updates (503) and the dispatcher's shutdown lets the ones under way finish."""
    stop = asyncio.Event()
    data = {**dp.workflow_data, "dispatcher": dp, "bot": bot, "bots": (bot,)}  # what polling passes
    with _signals_set(stop):
        await dp.emit_startup(**data)
        try:
            endpoint.attach(dp, bot, dp["in_flight"])  # before setWebhook: held updates may come at once
            types = dp.resolve_used_update_types()
            if await set_webhook(bot, endpoint.url, endpoint.secret, types, stop=stop, retry_max=retry_max):
                await stop.wait()
            logger.info("stopping: the webhook takes no more updates")
        finally:
            endpoint.close()
            await dp.emit_shutdown(**data)


async def set_webhook(
    bot: Bot,
    url: str,
    secret: str,
    allowed_updates: list[str],
    *,
    stop: asyncio.Event,
    retry_max: float,
    first_delay: float = FIRST_DELAY,
) -> bool:
    """setWebhook with the bot's update types, keeping what Telegram holds for the bot; False if ``stop``
    was set before Telegram answered.

    Raises :class:`StartupError` naming WEBHOOK_URL when Telegram refuses it (a bad URL, a port it does
    not post to, a certificate it cannot verify)."""
    try:
        done = await _patiently(
            lambda: bot.set_webhook(
                url, secret_token=secret, allowed_updates=allowed_updates, drop_pending_updates=False
            ),
            "setWebhook",
            stop=stop,
            retry_max=retry_max,
            first_delay=first_delay,
        )
    except TelegramBadRequest as exc:
        reason = str(exc).removeprefix("Telegram server says - ")
        raise StartupError(f"WEBHOOK_URL {url} is refused by Telegram (setWebhook): {reason}") from None
    if done:
        logger.info("webhook set: Telegram posts updates (%s) to %s", ", ".join(allowed_updates), url)
    return done


async def delete_webhook(bot: Bot, retry_max: float, first_delay: float = FIRST_DELAY) -> bool:
    """deleteWebhook before long polling (getUpdates is refused while a webhook is set); updates are kept.
    False if SIGINT / SIGTERM came before Telegram answered."""
    stop = asyncio.Event()
    with _signals_set(stop):
        return await _patiently(
            lambda: bot.delete_webhook(drop_pending_updates=False),
            "deleteWebhook",
            stop=stop,
            retry_max=retry_max,
            first_delay=first_delay,
        )


async def _patiently(
    call: Callable[[], Awaitable[object]], method: str, *, stop: asyncio.Event, retry_max: float, first_delay: float
) -> bool:
    """``call()`` until it succeeds (True), again after 1, 2, 4 … s (at most ``retry_max``) while Telegram
    is unreachable, or until ``stop`` is set (False); a refusal (400) is raised at once."""
    delay, attempt = first_delay, 0
    while not stop.is_set():
        attempt += 1
        request = asyncio.ensure_future(call())
        halt = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({request, halt}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halt.cancel()
        if not request.done():
            request.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await request
            return False
        try:
            request.result()
        except TelegramBadRequest:
            raise
        except (TelegramAPIError, OSError, TimeoutError) as exc:
            wait = max(delay, float(exc.retry_after)) if isinstance(exc, TelegramRetryAfter) else delay
            logger.warning("%s failed (attempt %d): %s; next try in %g s", method, attempt, type(exc).__name__, wait)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            delay = min(delay * 2, retry_max)
            continue
        if attempt > 1:
            logger.info("%s answered after %d attempts", method, attempt)
        return True
    return False
