"""The bot's Prometheus metrics, and the ``/metrics`` page that shows them.

Every metric lives on :data:`REGISTRY`, the bot's own ``CollectorRegistry`` (not prometheus_client's
global one, which libraries may fill). The counters and histograms below are module objects: the
update middleware, the Bot API session, the upstream guard, the poll job and the broadcast sender
each feed one without the services having to carry a metrics object around. They count from the
start of the process. The figures kept in the database (orders, purchases, balances, the ledger) are
gauges read at scrape time by :class:`bot.runtime.shop_metrics.ShopFigures`, so they survive a restart.

Label values are kinds, never people: an update's type, a Bot API method, an upstream's name and
operation, an error's class. No user or chat id is ever a label.
"""

from __future__ import annotations

import logging
import re
from abc import abstractmethod

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from providers.errors import ProviderError

logger = logging.getLogger(__name__)

disable_created_metrics()  # no ``*_created`` series beside every counter: a timestamp nobody graphs
#: every metric of the bot; ``/metrics`` shows this registry
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)  # process_resident_memory_bytes, process_cpu_seconds_total, ...
GCCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

UPDATES = Counter("smsbot_updates", "Telegram updates received, by type", ["type"], registry=REGISTRY)
UPDATE_SECONDS = Histogram(
    "smsbot_update_handling_seconds",
    "Time to handle one update, middlewares included, by type",
    ["type"],
    registry=REGISTRY,
)
BOT_API_REQUESTS = Counter("smsbot_bot_api_requests", "Bot API requests sent, by method", ["method"], registry=REGISTRY)
BOT_API_ERRORS = Counter(
    "smsbot_bot_api_errors",
    "Bot API requests that failed, by method and error: the HTTP status Telegram answered (429: flood "
    "control), 'network', or 'other'",
    ["method", "error"],
    registry=REGISTRY,
)
UPSTREAM_SECONDS = Histogram(
    "smsbot_upstream_request_seconds",
    "Time of one request to an upstream (after its rate limiter), by upstream and operation",
    ["upstream", "operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60),
    registry=REGISTRY,
)
UPSTREAM_ERRORS = Counter(
    "smsbot_upstream_errors",
    "Upstream requests that failed, by upstream and kind (the error class: unavailable, bad_response, "
    "rate_limited, unauthorized, out_of_stock, ...; 'other' for an unexpected exception)",
    ["upstream", "kind"],
    registry=REGISTRY,
)
POLL_SECONDS = Histogram(
    "smsbot_poll_cycle_seconds",
    "Time of one poll cycle over the open orders, deliveries included",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120),
    registry=REGISTRY,
)
BROADCAST_MESSAGES = Counter(
    "smsbot_broadcast_messages",
    "Broadcast messages by result: sent, unreachable (blocked the bot, chat gone), failed",
    ["result"],
    registry=REGISTRY,
)

LAST_BACKUP = Gauge(
    "smsbot_last_backup_timestamp_seconds",
    "When the newest backup in BACKUP_DIR was taken (Unix time, read from its name at each scrape); 0: none",
    registry=REGISTRY,
)


def error_kind(exc: BaseException) -> str:
    """A label for an exception: its class in snake_case (``RateLimited`` -> ``rate_limited``)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


def observe_upstream(upstream: str, operation: str, seconds: float, error: BaseException | None) -> None:
    """The upstream guard's observer (:class:`providers.guard.GuardedProvider`): one request sent."""
    UPSTREAM_SECONDS.labels(upstream, operation).observe(seconds)
    if error is not None:
        kind = error_kind(error) if isinstance(error, ProviderError) else "other"
        UPSTREAM_ERRORS.labels(upstream, kind).inc()


class Figures(Collector):
    """A collector whose values are read (asynchronously) just before a scrape renders: the database's."""

    @abstractmethod
    async def refresh(self) -> None:
        """Bring the values :meth:`collect` yields up to date (or leave them, if they are fresh enough)."""


class MetricsPage:
    """``GET /metrics``: :data:`REGISTRY` in Prometheus' text format.

    The route is added to the health server's app before it starts, which is before the database is
    open; :meth:`attach` adds the database figures once they can be read (a scrape before shows the
    process metrics only), :meth:`detach` takes them away before the database closes.
    """

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self._figures: Figures | None = None

    def serve(self, app: web.Application) -> None:
        app.router.add_get("/metrics", self.handle)

    def attach(self, figures: Figures) -> None:
        self.detach()
        self.registry.register(figures)
        self._figures = figures

    def detach(self) -> None:
        if self._figures is not None:
            self.registry.unregister(self._figures)
            self._figures = None

    async def render(self) -> bytes:
        if self._figures is not None:
            try:
                await self._figures.refresh()
            except Exception:  # the process metrics still answer; the figures keep their last values
                logger.warning("metrics: the database figures could not be read", exc_info=True)
        return generate_latest(self.registry)

    async def handle(self, request: web.Request) -> web.Response:
        response = web.Response(body=await self.render())
        # the classic text format (what generate_latest writes for these names), which every Prometheus reads
        response.headers["Content-Type"] = CONTENT_TYPE_PLAIN_0_0_4
        return response


#: the process's one metrics page (it has one HTTP server): bot.app serves it and attaches the figures
PAGE = MetricsPage()
