"""Scheduled jobs: poll open orders and push codes; expire and refund; resolve unclear purchases."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.orders.tracking import Tracker
from bot.settings import Settings
from handlers.notifier import Notifier
from providers.names import service_name
from storage.orders import Order, OrderStatus

logger = logging.getLogger(__name__)


class Jobs:
    def __init__(self, tracker: Tracker, notifier: Notifier, settings: Settings) -> None:
        self.tracker = tracker
        self.notifier = notifier
        self.settings = settings
        self._running: set[asyncio.Task[None]] = set()

    def tracked(self, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """Wrap a job so shutdown can wait for a run in progress before the database closes."""

        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                await job()
            finally:
                self._running.discard(task)

        run.__qualname__ = getattr(job, "__qualname__", "job")
        return run

    async def drain(self, grace: float = 15.0) -> None:
        """Wait (bounded) for jobs still running; called after the scheduler stopped starting new ones."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace)

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
        jobs = [
            (self.poll, interval),
            (self.expire, max(interval, 5.0)),
            (self.refresh_catalog, self.settings.catalog_ttl_seconds),
        ]
        for job, every in jobs:
            scheduler.add_job(
                self.tracked(job), "interval", seconds=every, id=job.__name__, next_run_time=now, **common
            )


def _flag(order: Order) -> str:
    return (
        f"⚠️ Order #{order.id} ({service_name(order.service)}, {order.country}) at {order.provider} "
        f"ended unclear and was refunded to user {order.user_id}. Check the upstream account "
        f"for a number bought without an order."
    )
