"""Upstream health for the operator: balances, breakers, run-time switches, and alerts to admins."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.money.billing import money
from bot.money.pricing import Pricing
from bot.notifications import Alert, LowBalance, Notifications, UpstreamFailing
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
    """The bad states admins were told about, comma-separated: in the database, so a replica that takes the
    alert job over (or a restart) does not tell them again."""
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

    async def new_alerts(self) -> list[Alert]:
        """One alert for each bad state (low balance, breaker open) entered since the last check."""
        found: list[Alert] = []
        infos = await self.status()
        async with self.db.read() as conn:
            saved = await config.with_prefix(conn, "upstream:")
        changed: dict[str, str] = {}
        for info in infos:
            before = set(filter(None, saved.get(alerted_key(info.name), "").split(",")))
            now: set[str] = set()
            if info.enabled:
                if info.balance_minor is not None:
                    if info.balance_minor < self.threshold:
                        now.add("low")
                elif "low" in before:  # balance unknown this time: keep what we knew
                    now.add("low")
                if info.breaker != BreakerState.CLOSED:
                    now.add("open")
            if now != before:
                changed[alerted_key(info.name)] = ",".join(sorted(now))
            for kind in sorted(now - before):
                logger.warning("alerting admins: upstream %s %s", info.name, kind)
                if kind == "low":
                    found.append(LowBalance(info.name, info.balance_minor, self.threshold, self.pricing.currency))
                else:
                    found.append(UpstreamFailing(info.name, info.last_error))
        if changed:
            async with self.db.transaction() as conn:
                for key, value in changed.items():
                    await config.put(conn, key, value, None)
        return found

    async def check(self, notifications: Notifications) -> None:
        """The scheduled job: every admin told once per new bad state."""
        for alert in await self.new_alerts():
            await notifications.alert(alert)
