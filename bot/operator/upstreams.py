"""Upstream health for the operator: balances, breakers, run-time switches, and alerts to admins."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.money.billing import money
from bot.money.pricing import Pricing
from bot.notifications import LowBalance, Notifications, UpstreamFailing
from bot.settings import Settings
from providers.catalog import Catalog
from providers.errors import ProviderError
from providers.guard import BreakerState, GuardedProvider
from storage import admin_log, config
from storage.backends import Store

logger = logging.getLogger(__name__)

BALANCE_TIMEOUT = 15.0
ALERT_INTERVAL_MINUTES = 5  # how often balances and breakers are checked for alerts


def enabled_key(name: str) -> str:
    return f"upstream:{name}:enabled"


def alerted_key(name: str) -> str:
    """Its value is "low" while admins were told of the upstream's low balance: in the database, so the
    replica that runs the alert job next (or a restart) does not tell them again."""
    return f"upstream:{name}:alerted"


@dataclass(frozen=True, slots=True)
class UpstreamInfo:
    name: str
    enabled: bool
    breaker: str  # closed | open | half_open
    last_error: str | None
    balance: str | None  # as the upstream states it, e.g. "12.50 USD"
    balance_minor: int | None  # converted to the bot currency; None when unknown
    balance_error: str | None


async def apply_saved(db: Store, catalog: Catalog) -> None:
    """Apply the operator's saved enable/disable switches (call once at startup)."""
    async with db.read() as conn:
        saved = await config.with_prefix(conn, "upstream:")
    for name, provider in catalog.providers.items():
        value = saved.get(enabled_key(name))
        if value is not None and isinstance(provider, GuardedProvider):
            provider.enabled = value == "1"
            logger.info("upstream %s %s by the operator", name, "enabled" if provider.enabled else "disabled")


class Upstreams:
    def __init__(self, db: Store, catalog: Catalog, pricing: Pricing, settings: Settings) -> None:
        self.db = db
        self.catalog = catalog
        self.pricing = pricing
        self.settings = settings
        self._told_failing: set[str] = set()  # upstreams whose open breaker (this process's) admins were told of
        self.threshold = settings.upstream_balance_alert_minor

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
                balance = money(found.amount, found.currency)
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
            await config.put(conn, enabled_key(name), "1" if enabled else "0", admin_id)
            await admin_log.record(conn, admin_id, "enable" if enabled else "disable", f"upstream={name}")
        provider.enabled = enabled
        logger.info("admin %d %s upstream %s", admin_id, "enabled" if enabled else "disabled", name)

    async def check(self, notifications: Notifications) -> None:
        """The scheduled job: every admin told once per new bad state, marked told only once the alert is
        settled (:meth:`Notifications.alert`; else the next check sends it again). A low balance is the
        upstream's own, the same on every replica: told once in the database, so whichever replica runs the
        job next does not tell it again. A breaker is each process's own: told once by this process."""
        infos = await self.status()
        async with self.db.read() as conn:
            saved = await config.with_prefix(conn, "upstream:")
        for info in infos:
            enabled = saved.get(enabled_key(info.name), "1") == "1"  # the operator's switch, tapped on any replica
            told_low = saved.get(alerted_key(info.name)) == "low"
            known = info.balance_minor
            low = enabled and (known < self.threshold if known is not None else told_low)  # unknown: as it was
            if low and not told_low:
                logger.warning("alerting admins: upstream %s low", info.name)
                if await notifications.alert(LowBalance(info.name, known, self.threshold, self.pricing.currency)):
                    await self._told_low(info.name, "low")
            elif told_low and not low:
                await self._told_low(info.name, "")
            failing = enabled and info.breaker != BreakerState.CLOSED
            if failing and info.name not in self._told_failing:
                logger.warning("alerting admins: upstream %s failing", info.name)
                if await notifications.alert(UpstreamFailing(info.name, info.last_error)):
                    self._told_failing.add(info.name)
            elif not failing:
                self._told_failing.discard(info.name)

    async def _told_low(self, name: str, value: str) -> None:
        async with self.db.transaction() as conn:
            await config.put(conn, alerted_key(name), value, None)
