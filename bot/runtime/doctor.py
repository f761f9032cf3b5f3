"""``python -m bot check``: is this setup ready to run? One line per check, exit status 1 if any failed.

An operator changing ``.env`` (a new upstream key, another database path) learns here, without starting
the bot or messaging anyone, whether the bot would work: the settings (already loaded and validated by
``bot.__main__``), the database, Telegram (``getMe``) and, for every configured upstream, its balance
and its catalog, each asked with a timeout. Failures are worded from the providers' own error classes.

Safe next to a running bot: nothing is created, migrated or bought; the database, an SQLite file or a
PostgreSQL server, is only probed (:mod:`bot.runtime.database_check`). Output is plain English on the
operator's terminal, every line masked by the same filter as the log, so no token, API key or database
password is ever printed.
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramUnauthorizedError
from aiogram.utils.token import TokenValidationError

from bot.runtime.database_check import Line, postgres_line, sqlite_line
from bot.runtime.logs import SecretFilter
from bot.settings import Settings
from bot.web_settings import cloud_takes_webhook, is_cloud_api, webhook_port
from providers import errors, registry
from providers.base import Provider
from providers.money import format_minor

#: seconds each remote call (getMe, one upstream's balance or catalog) may take
CHECK_TIMEOUT = 20.0

#: how a provider error reads, most specific class first
PROVIDER_FAILURES: list[tuple[type[errors.ProviderError], str]] = [
    (errors.Unauthorized, "the API key was refused"),
    (errors.ProviderBalanceLow, "the account's balance is too low"),
    (errors.RateLimited, "too many requests: the upstream asks to slow down"),
    (errors.InvalidRequest, "the request was refused as invalid (check the base URL)"),
    (errors.Unavailable, "the upstream cannot be reached or is failing"),
    (errors.BadResponse, "the answer could not be understood (check the base URL)"),
]


async def doctor(settings: Settings) -> int:
    """Run every check, print one line each (masked); 0 when all passed, 1 otherwise."""
    from bot.__main__ import secrets  # the one list of what is secret (imported late: __main__ imports us late)

    mask = SecretFilter(secrets(settings)).mask
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a log line per request between the results
    results: list[Line] = []

    def say(line: Line) -> None:
        results.append(line)
        print(mask(f"{'ok' if line[0] else 'FAIL':<6}{line[1]}"), flush=True)

    providers = registry.build(
        settings.upstream_keys(),
        [(u.name, u.base_url, u.api_key.get_secret_value(), u.currency) for u in settings.smsactivate_all()],
    )
    say(settings_line(settings, providers))
    if settings.webhook_url:
        say(webhook_line(settings.webhook_url, settings.telegram_api_url))
    if settings.postgres_url:
        say(await postgres_line(settings.postgres_url, CHECK_TIMEOUT))
    else:
        say(await asyncio.to_thread(sqlite_line, settings.database_path))
    telegram = asyncio.create_task(telegram_line(settings))  # asked while the upstreams are
    try:
        upstreams = await asyncio.gather(*(upstream_lines(p) for p in providers))
    finally:
        await asyncio.gather(*(p.close() for p in providers), return_exceptions=True)
    say(await telegram)
    for line in (line for lines in upstreams for line in lines):
        say(line)
    if settings.demo_enabled:
        say((True, "demo: DEMO_PROVIDER is on: simulated numbers and codes are sold, nothing is bought upstream"))
    return 0 if all(passed for passed, _ in results) else 1


def settings_line(settings: Settings, providers: list[Provider]) -> Line:
    mode = "webhook mode" if settings.webhook_url else "long polling"
    names = ", ".join(p.name for p in providers)
    if not providers and not settings.demo_enabled:
        return False, "settings: no upstream: set an upstream's API key (e.g. SMSCARTESIM_API_KEY), or DEMO_PROVIDER=on"
    upstreams = f"{len(providers)} upstream{'s' if len(providers) != 1 else ''}" + (f" ({names})" if names else "")
    return True, f"settings: {mode}, {upstreams}, currency {settings.currency}"


def webhook_line(url: str, api_url: str) -> Line:
    """Who must take WEBHOOK_URL in setWebhook. Telegram's cloud takes only https on its four ports
    (the settings refuse any other URL with it); a self-hosted server takes http or another port only
    when run with --local, which cannot be asked, so that is said rather than failed."""
    port = webhook_port(url)
    if is_cloud_api(api_url):
        return True, f"webhook: {url}: https on port {port}, where Telegram's cloud posts updates"
    if cloud_takes_webhook(url):
        return True, f"webhook: {url}: the Bot API server at {api_url} posts updates there"
    http = url.lower().startswith("http:")
    what = "http on port" if http else "https on port"
    return (
        True,
        f"webhook: {url}: {what} {port} is taken only by a Bot API server run with --local, as {api_url} must be",
    )


async def telegram_line(settings: Settings) -> Line:
    url = settings.telegram_api_url
    try:
        bot = Bot(settings.bot_token.get_secret_value(), session=AiohttpSession(api=TelegramAPIServer.from_base(url)))
    except TokenValidationError:
        return False, "telegram: BOT_TOKEN is not a bot token (<digits>:<secret>): copy it again from @BotFather"
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            me = await bot.get_me()
    except TelegramUnauthorizedError:
        return False, "telegram: BOT_TOKEN was refused (401 Unauthorized): copy it again from @BotFather"
    except TimeoutError:
        return False, f"telegram: no answer from TELEGRAM_API_URL {url} within {CHECK_TIMEOUT:g} s"
    except TelegramNetworkError as exc:
        return False, f"telegram: cannot reach TELEGRAM_API_URL {url}: {exc.message}"
    except TelegramAPIError as exc:
        return False, f"telegram: getMe refused: {exc.message}"
    finally:
        await bot.session.close()
    return True, f"telegram: @{me.username} (id {me.id})"


async def upstream_lines(provider: Provider) -> list[Line]:
    """Two lines: the upstream's balance and its catalog, each asked with :data:`CHECK_TIMEOUT`."""
    name = provider.name
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            balance = await provider.balance()
        balance_line = True, f"{name} balance: {format_minor(balance.amount, balance.currency)} {balance.currency}"
    except Exception as exc:
        balance_line = False, f"{name} balance: {failure(exc)}"
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            offers = await provider.offers()
    except Exception as exc:
        return [balance_line, (False, f"{name} catalog: {failure(exc)}")]
    if not offers:
        return [balance_line, (False, f"{name} catalog: empty, nothing to sell")]
    services, countries = len({o.service for o in offers}), len({o.country for o in offers})
    return [balance_line, (True, f"{name} catalog: {len(offers)} offers, {services} services in {countries} countries")]


def failure(exc: Exception) -> str:
    """What went wrong asking an upstream, in words; the upstream's own text follows in parentheses."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {CHECK_TIMEOUT:g} s"
    if not isinstance(exc, errors.ProviderError):
        return f"unexpected error: {type(exc).__name__}: {exc}"
    message = str(exc.args[0]) if exc.args else ""  # without str(exc)'s "[provider]" and "(code)"
    said = message if not exc.code or exc.code in message else f"{message} ({exc.code})"
    word = next((text for kind, text in PROVIDER_FAILURES if isinstance(exc, kind)), type(exc).__name__)
    return f"{word} ({said})" if said and said != type(exc).__name__ else word
