"""Wiring: storage, providers, services, Bot, Dispatcher and scheduler; then long polling or the webhook.

One aiohttp server (:mod:`bot.runtime.health`) carries ``/healthz`` and ``/readyz`` and, when
WEBHOOK_URL is set, the webhook route at that URL's path (:mod:`bot.runtime.webhook`); it listens on
WEB_HOST : WEB_PORT (8080 in webhook mode when WEB_PORT is unset), and in polling mode only when WEB_PORT
is set. SIGTERM / SIGINT stop the updates first, then in-flight updates and a running job get
SHUTDOWN_GRACE_SECONDS to finish (:mod:`bot.runtime.shutdown`) before the scheduler and database close.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from datetime import timedelta
from pathlib import Path

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.jobs import Jobs
from bot.money.billing import Billing
from bot.notifications import DatabaseUnusable, Notifications
from bot.operator.broadcasts import Broadcasts
from bot.orders.actions import OrderActions
from bot.orders.outbound import SmsReplies
from bot.orders.placing import OrderService
from bot.people import People
from bot.runtime.episodes import ErrorSpike
from bot.runtime.health import Readiness
from bot.runtime.metrics import PAGE, observe_upstream
from bot.runtime.readiness import ReadinessChecks
from bot.runtime.response_types import keep_response_types
from bot.runtime.shop_metrics import ShopFigures
from bot.runtime.shutdown import Grace, InFlight
from bot.runtime.startup import open_database, reach_telegram, start_health_server
from bot.runtime.telegram_contact import AnswerRecorder, TelegramContact, TelegramWatch
from bot.runtime.watchdog import DatabaseWatchdog
from bot.runtime.webhook import delete_webhook, serve_webhook, webhook_endpoint
from bot.services import build_services
from bot.settings import Settings
from handlers import bot_profile
from handlers.admin import broadcast_keyboards
from handlers.fsm_storage import close_fsm_last, fsm_parts
from handlers.log_context import LogContextMiddleware
from handlers.metrics import BotApiMetrics, UpdateMetrics
from handlers.middlewares import FloodMiddleware, LocaleMiddleware, UserMiddleware
from handlers.notifier import Notifier
from handlers.payment_guard import PaymentGuard
from handlers.routers import build_router
from providers import registry
from providers.base import Provider
from providers.catalog import Catalog
from providers.demo import DemoProvider
from providers.guard import GuardedProvider
from storage.backends import Store

logger = logging.getLogger(__name__)

LOCALES = Path(__file__).resolve().parent.parent / "locales"


def build_providers(settings: Settings) -> list[Provider]:
    """Every configured upstream (plus the demo when enabled), each behind its guard."""
    upstreams = registry.build(
        settings.upstream_keys(),
        [(u.name, u.base_url, u.api_key.get_secret_value(), u.currency) for u in settings.smsactivate_all()],
    )
    if settings.demo_enabled:
        timeout = timedelta(minutes=settings.order_timeout_minutes)
        state = settings.database_path.with_name(settings.database_path.name + ".demo.json")
        upstreams.append(DemoProvider(settings.demo_sms_delay_seconds, timeout, state))
    return [
        GuardedProvider(
            p,
            rate=settings.upstream_rate_per_second,
            buy_share_percent=settings.upstream_buy_share_percent,
            failures=settings.breaker_failures,
            cooldown=settings.breaker_cooldown_seconds,
            observer=observe_upstream,  # upstream latency and errors in the metrics
        )
        for p in upstreams
    ]


def build_bot(settings: Settings) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    session.middleware(BotApiMetrics())  # Bot API calls and errors by method in the metrics
    return Bot(
        settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


async def build_dispatcher(settings: Settings, bot: Bot, db: Store, providers: list[Provider]) -> Dispatcher:
    """The Dispatcher with every service (:func:`bot.services.build_services`), middleware and router."""
    i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
    keep_response_types()  # aiogram's Response[T] classes, alive from now on: not rebuilt per Bot API call

    def notifier(orders: OrderService, actions: OrderActions, billing: Billing, people: People) -> Notifier:
        return Notifier(bot, i18n, orders, actions, billing, people, settings.admin_ids)

    services, notifications = await build_services(
        settings, bot, db, providers, i18n, notifier=notifier, broadcast_view=broadcast_keyboards
    )
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url is not None else None
    storage, isolation = fsm_parts(redis_url)  # Redis or memory; the notifier is the Telegram side's own type
    in_flight = InFlight()  # outermost: shutdown waits for the whole handling of every update taken
    dp = Dispatcher(
        storage=storage, events_isolation=isolation, **services, notifier=notifications, in_flight=in_flight
    )
    in_flight.install(dp)  # before aiogram's own outer middlewares too
    dp["error_spike"] = ErrorSpike(settings.error_alert_threshold)  # handlers/errors.py counts; a spike alerts
    dp.update.outer_middleware(LogContextMiddleware())  # first: every line of the update names it
    dp.update.outer_middleware(UpdateMetrics())  # counts and times every update, dropped ones too
    dp.update.outer_middleware(FloodMiddleware(settings.user_updates_per_second, settings.user_updates_burst))
    dp.update.outer_middleware(PaymentGuard())  # before the user's record: a payment the database refused
    dp.update.outer_middleware(UserMiddleware())
    LocaleMiddleware(i18n).setup(dp)
    dp.include_router(build_router())
    dp.startup.register(on_startup)
    dp.shutdown.register(on_shutdown)
    close_fsm_last(dp)  # Redis closes after on_shutdown's drain
    return dp


async def on_startup(
    bot: Bot,
    dispatcher: Dispatcher,
    scheduler: AsyncIOScheduler,
    jobs: Jobs,
    catalog: Catalog,
    i18n: I18n,
    broadcasts: Broadcasts,
    sms_replies: SmsReplies,
) -> None:
    await sms_replies.settle_interrupted()  # before any new send: what a stopped process left half-done
    await bot_profile.publish_default(bot, i18n)  # the menu and descriptions; every language's in the background
    dispatcher["profile_task"] = asyncio.create_task(bot_profile.publish_languages(bot, i18n))
    gc.collect()  # start-up's objects (aiogram, its models, the handlers) live as long as the process: frozen,
    gc.freeze()  # no later full collection walks them (0.2-0.4 s of event loop each, with 10,000 open orders)
    jobs.schedule(scheduler)
    scheduler.start()
    await broadcasts.resume()  # broadcasts a restart interrupted go on where they stopped
    broadcasts.schedule(scheduler, jobs.tracked)  # and on every replica, those of a replica that died
    logger.info("bot started with providers: %s", ", ".join(catalog.providers) or "none")


async def on_shutdown(
    dispatcher: Dispatcher,
    scheduler: AsyncIOScheduler,
    catalog: Catalog,
    broadcasts: Broadcasts,
    jobs: Jobs,
    settings: Settings,
    in_flight: InFlight,
) -> None:
    """Updates no longer come in: what is under way (updates being handled, a job's run, broadcast sends)
    finishes within one SHUTDOWN_GRACE_SECONDS, then the scheduler stops (the database closes after)."""
    grace = Grace(settings.shutdown_grace_seconds)
    if (profile := dispatcher.workflow_data.pop("profile_task", None)) is not None:
        profile.cancel()  # a stop before every language's profile is set: the next start sets them
    running = scheduler.running
    if running:
        scheduler.pause()  # no new runs; a run in progress finishes (shutdown would cancel it mid-way)
    await asyncio.gather(
        broadcasts.stop(min(grace.left(), 5.0)), in_flight.drain(grace.left()), jobs.drain(grace.left())
    )
    if running:
        scheduler.shutdown(wait=False)
    await jobs.release()  # no poll runs any more: this replica's orders go to the others at once
    await catalog.close()


async def run(settings: Settings) -> None:
    """Run the bot until SIGINT / SIGTERM.

    Start-up: the HTTP server if WEB_PORT or WEBHOOK_URL is set (first: a taken port stops the start
    before the database is touched), the database (already checked by ``bot.__main__``) and its watchdog,
    then Telegram, retried until it answers (``/readyz`` says 503 until then), then the webhook
    (setWebhook) or long polling (after deleteWebhook). Raises :class:`StartupError` for what retrying
    cannot fix, a WEBHOOK_URL Telegram refuses included.
    """
    db: Store | None = None
    contact = TelegramContact()  # every Bot API answer: /readyz, the keep-alive, the "unreachable" alert
    checks = ReadinessChecks(contact)  # given the database, scheduler and poll job as they are built
    readiness = Readiness()
    checks.install(readiness)
    endpoint = webhook_endpoint(settings)
    server = await start_health_server(settings, readiness, endpoint) if settings.listen_port is not None else None
    watchdog: DatabaseWatchdog | None = None
    telegram_watch: TelegramWatch | None = None
    dp: Dispatcher | None = None
    try:
        db = await open_database(settings)
        checks.db = db
        bot = build_bot(settings)
        bot.session.middleware(AnswerRecorder(contact))
        try:
            providers = build_providers(settings)
            if not providers:
                logger.error("no provider: set an upstream API key, or DEMO_PROVIDER=on")
            dp = await build_dispatcher(settings, bot, db, providers)
            figures = ShopFigures(db, settings.database_path, providers, settings.currency)
            PAGE.attach(figures)  # /metrics: the database's figures, read on a connection of their own
            watchdog = DatabaseWatchdog(db, [lambda problem: on_database_gone(dp, problem)])
            watchdog.start()
            checks.scheduler, checks.poll = dp["scheduler"], dp["jobs"].heartbeat
            telegram_watch = TelegramWatch(bot, contact, dp["notifier"])
            telegram_watch.start()
            # polling: deleteWebhook first (Telegram refuses getUpdates while a webhook is set); both
            # retried until Telegram answers, and SIGTERM meanwhile means "stop starting"
            retry_max = settings.telegram_retry_max_seconds
            if await reach_telegram(bot, settings) is None or (
                endpoint is None and not await delete_webhook(bot, retry_max)
            ):
                await dp["catalog"].close()  # stopped while Telegram was still unreachable: no on_shutdown
                return
            if endpoint is not None:
                await serve_webhook(dp, bot, endpoint, retry_max)
            else:
                await dp.start_polling(bot, handle_signals=True, allowed_updates=dp.resolve_used_update_types())
        finally:
            if watchdog is not None:
                await watchdog.stop()
            if telegram_watch is not None:
                await telegram_watch.stop()
            await bot.session.close()
            if dp is not None:  # Redis's connections (aiogram closes them at shutdown; a start stopped early
                await dp.fsm.close()  # has none, and closing twice is harmless)
            PAGE.detach()
            await db.close()
    finally:
        if server is not None:
            await server.stop()


async def on_database_gone(dp: Dispatcher, problem: str) -> None:
    """Once: no more scheduled runs (each would fail on the database), and the admins are told."""
    scheduler: AsyncIOScheduler = dp["scheduler"]
    if scheduler.running:
        scheduler.pause()
    notifications: Notifications = dp["notifier"]
    await notifications.alert(DatabaseUnusable(problem))
