"""Scheduled jobs: poll open orders and push codes; expire and refund; resolve unclear purchases."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.notify import Notifier
from bot.settings import Settings
from bot.tracking import Tracker
from providers.services import service_name
from storage.orders import Order, OrderStatus

logger = logging.getLogger(__name__)


class Jobs:
    def __init__(self, tracker: Tracker, notifier: Notifier, settings: Settings) -> None:
        self.tracker = tracker
        self.notifier = notifier
        self.settings = settings

    async def poll(self) -> None:
        """One cycle over every open order; each change reaches the user's chat."""
        for order in await self.tracker.poll_all():
            await self.notifier.deliver(order)
        for order in await self.tracker.undelivered():
            await self.notifier.deliver(order)

    async def expire(self) -> None:
        for order in await self.tracker.expire_due():
            await self.notifier.deliver(order)
        for order in await self.tracker.resolve_unclear():
            await self.notifier.deliver(order)
            if order.status is OrderStatus.FAILED:
                await self.notifier.tell_admins(self.settings.admin_ids, _flag(order))

    async def refresh_catalog(self) -> None:
        await self.tracker.orders.catalog.refresh_all()

    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        interval = self.settings.poll_interval_seconds
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        now = datetime.now(UTC)  # first run at once: a restart resumes every open order immediately
        scheduler.add_job(self.poll, "interval", seconds=interval, id="poll", next_run_time=now, **common)
        scheduler.add_job(self.expire, "interval", seconds=max(interval, 5.0), id="expire", next_run_time=now, **common)
        ttl = self.settings.catalog_ttl_seconds
        scheduler.add_job(self.refresh_catalog, "interval", seconds=ttl, id="catalog", next_run_time=now, **common)


def _flag(order: Order) -> str:
    return (
        f"⚠️ Order #{order.id} ({service_name(order.service)}, {order.country}) at {order.provider} "
        f"ended unclear and was refunded to user {order.user_id}. Check the upstream account "
        f"for a number bought without an order."
    )
