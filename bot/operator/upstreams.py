"""Upstream health for the operator: balances, breakers, run-time switches, and alerts to admins."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiogram.utils.i18n import gettext as _
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.money.pricing import Pricing
from bot.settings import Settings
from handlers.notifier import Notifier
from providers.catalog import Catalog
from providers.errors import ProviderError
from providers.guard import BreakerState, GuardedProvider
from providers.money import format_minor
from storage import admin_log
from storage import config as config_q
from storage.db import Database

logger = logging.getLogger(__name__)

BALANCE_TIMEOUT = 15.0
ALERT_INTERVAL_MINUTES = 5


def enabled_key(name: str) -> str:
    return f"upstream:{name}:enabled"


@dataclass(frozen=True, slots=True)
class UpstreamInfo:
    name: str
    enabled: bool
    breaker: str  # closed | open | half_open
    last_error: str | None
    balance: str | None  # as the upstream states it, e.g. "12.50 USD"
    balance_minor: int | None  # converted to the bot currency; None when unknown
    balance_error: str | None


async def apply_saved(db: Database, catalog: Catalog) -> None:
    """Apply the operator's saved enable/disable switches (call once at startup)."""
    async with db.read() as conn:
        saved = await config_q.with_prefix(conn, "upstream:")
    for name, provider in catalog.providers.items():
        value = saved.get(enabled_key(name))
        if value is not None and isinstance(provider, GuardedProvider):
            provider.enabled = value == "1"
            logger.info("upstream %s %s by the operator", name, "enabled" if provider.enabled else "disabled")


class Upstreams:
    def __init__(self, db: Database, catalog: Catalog, pricing: Pricing, settings: Settings) -> None:
        self.db = db
        self.catalog = catalog
        self.pricing = pricing
        self.settings = settings
        self.threshold = settings.upstream_balance_alert_minor
        self._alerted: dict[str, set[str]] = {}  # upstream -> the bad states admins were told about

    def guarded(self) -> dict[str, GuardedProvider]:
        return {n: p for n, p in self.catalog.providers.items() if isinstance(p, GuardedProvider)}

    async def _info(self, provider: GuardedProvider) -> UpstreamInfo:
        balance = converted = error = None
        if provider.enabled:
            try:
                found = await asyncio.wait_for(provider.balance(), BALANCE_TIMEOUT)
            except (ProviderError, TimeoutError) as exc:
                error = str(exc) or exc.__class__.__name__
            else:
                balance = f"{format_minor(found.amount, found.currency)} {found.currency}"
                converted = self.pricing.convert(found.amount, found.currency)
        return UpstreamInfo(
            name=provider.name,
            enabled=provider.enabled,
            breaker=str(provider.breaker.state),
            last_error=provider.last_error,
            balance=balance,
            balance_minor=converted,
            balance_error=error,
        )

    async def status(self) -> list[UpstreamInfo]:
        return list(await asyncio.gather(*(self._info(p) for p in self.guarded().values())))

    async def set_enabled(self, admin_id: int, name: str, enabled: bool) -> None:
        """Switch an upstream on or off at once; persisted and logged. LookupError for an unknown name."""
        provider = self.guarded().get(name)
        if provider is None:
            raise LookupError(name)
        async with self.db.transaction() as conn:
            await config_q.put(conn, enabled_key(name), "1" if enabled else "0", admin_id)
            await admin_log.record(conn, admin_id, "enable" if enabled else "disable", f"upstream={name}")
        provider.enabled = enabled
        logger.info("admin %d %s upstream %s", admin_id, "enabled" if enabled else "disabled", name)

    async def new_alerts(self) -> list[tuple[str, str, UpstreamInfo]]:
        """``(upstream, "low" | "open", info)`` for each bad state entered since the last check."""
        found = []
        for info in await self.status():
            before = self._alerted.get(info.name, set())
            now: set[str] = set()
            if info.enabled:
                if info.balance_minor is not None:
                    if info.balance_minor < self.threshold:
                        now.add("low")
                elif "low" in before:  # balance unknown this time: keep what we knew
                    now.add("low")
                if info.breaker != BreakerState.CLOSED:
                    now.add("open")
            self._alerted[info.name] = now
            found += [(info.name, kind, info) for kind in sorted(now - before)]
        return found

    async def check(self, notifier: Notifier) -> None:
        """The scheduled job: one message per admin per new bad state."""
        with notifier.i18n.context():
            for name, kind, info in await self.new_alerts():
                if kind == "low":
                    text = _("⚠️ Upstream {name}: balance {balance} is under {threshold}.").format(
                        name=name, balance=info.balance, threshold=self.fmt(self.threshold)
                    )
                else:
                    text = _("⚠️ Upstream {name} is failing and out of routing: {error}").format(
                        name=name, error=html.escape(info.last_error or "?")
                    )
                logger.warning("alerting admins: upstream %s %s", name, kind)
                await notifier.tell_admins(self.settings.admin_ids, text)

    def fmt(self, amount: int) -> str:
        return f"{format_minor(amount, self.pricing.currency)} {self.pricing.currency}"

    def schedule(
        self,
        scheduler: AsyncIOScheduler,
        notifier: Notifier,
        wrap: Callable[[Callable[[], Awaitable[None]]], Callable[[], Awaitable[None]]] = lambda job: job,
    ) -> None:
        """Check balances and breakers every few minutes; ``wrap`` lets shutdown wait for a run."""

        async def check() -> None:
            await self.check(notifier)

        scheduler.add_job(
            wrap(check),
            "interval",
            minutes=ALERT_INTERVAL_MINUTES,
            id="upstream_alerts",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
