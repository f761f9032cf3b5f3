"""Scheduled jobs: poll open orders and push codes (telling admins when polling cannot keep up); expire and
refund; resolve unclear purchases; retry Stars credits; alert admins to upstream trouble. Shutdown waits for a
run in progress, then frees this replica's order leases.

Replicas sharing one PostgreSQL database split the work: each poll run asks about the orders this replica
leases (:mod:`bot.orders.leases`), and the jobs that must not run twice at once (the expire sweep, the
credit retry, the upstream alerts) run where the database's lock of that name is free, and are skipped for
that run elsewhere. The catalog refresh (each process's own cache) and the poll watch (each process's own
poll job) run on every replica; backups are SQLite's, of its one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.money.stars import Payments
from bot.notifications import Notifications, PollLagging, PollOverrun, UnclearRefund
from bot.operator.upstreams import ALERT_INTERVAL_MINUTES, Upstreams
from bot.orders.polling import PollRun
from bot.orders.tracking import Tracker
from bot.runtime.backups import ScheduledBackups
from bot.runtime.episodes import Episode, PollHeartbeat
from bot.runtime.metrics import POLL_SECONDS
from bot.runtime.shutdown import finish_or_cut_off
from bot.settings import Settings
from providers.catalog import Catalog
from storage.orders import OrderStatus

logger = logging.getLogger(__name__)

#: how often Stars payments left 'received' (their credit failed) are credited again
CREDIT_RETRY_SECONDS = 60

Job = Callable[[], Awaitable[None]]
ONCE_AT_A_TIME: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}

#: how often the poll job's lag is looked at (PollLagging)
POLL_WATCH_SECONDS = 5.0

#: a poll run's figures in the log
RUN_FIGURES = "%d open orders, %d checks, %d bulk calls, %d checks left for later, %.1f s against an interval of %.1f s"


#: poll runs in a row that must fit before an overrun is told again
REARM_AFTER = 12


class OverrunWatch:
    """Says once that poll runs do not fit their interval (slower than it, or leaving due checks for later
    runs), and once that they fit again: after :data:`REARM_AFTER` runs in a row that fit, so runs hovering
    at the edge do not alert the admins on every flip. Then it is armed for the next time."""

    def __init__(self) -> None:
        self.overrunning = False
        self.fitting = 0  # runs in a row that fit

    def observe(self, run: PollRun, seconds: float, interval: float) -> PollOverrun | None:
        """The alert to send for this run, if it is the first of a series that did not fit."""
        fits = seconds <= interval and not run.deferred
        figures = (run.orders, run.checks, run.bulk_calls, run.deferred, seconds, interval)
        if fits:
            self.fitting += 1
            if self.overrunning and self.fitting >= REARM_AFTER:
                self.overrunning = False
                logger.info("poll runs fit again: " + RUN_FIGURES, *figures)
            return None
        self.fitting = 0
        if self.overrunning:
            return None
        self.overrunning = True
        logger.warning("poll run cannot keep up: " + RUN_FIGURES, *figures)
        return PollOverrun(*figures)


class Jobs:
    def __init__(
        self,
        tracker: Tracker,
        notifications: Notifications,
        payments: Payments,
        upstreams: Upstreams,
        catalog: Catalog,
        settings: Settings,
    ) -> None:
        self.tracker = tracker
        self.notifications = notifications
        self.payments = payments
        self.upstreams = upstreams
        self.catalog = catalog
        self.settings = settings
        self._running: set[asyncio.Task[None]] = set()
        self.overruns = OverrunWatch()
        self.heartbeat = PollHeartbeat(settings.poll_interval_seconds)  # read by /readyz
        self.lagging = Episode()

    def tracked(self, job: Job) -> Job:
        """Wrap a job so shutdown can wait for a run in progress before the database closes."""
        name = getattr(job, "__qualname__", "job")

        async def run() -> None:
            # the run in a task of its own: the drain can cut it off without the scheduler's task seeing
            # a CancelledError (APScheduler would log that as a job failure with a traceback)
            task = asyncio.ensure_future(job())
            task.set_name(name)
            self._running.add(task)
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not task.cancelled() or (current is not None and current.cancelling()):
                    raise  # the scheduler's own task was cancelled, not the run
            finally:
                self._running.discard(task)

        run.__qualname__ = name
        return run

    async def drain(self, grace: float = 15.0) -> int:
        """Wait (bounded) for jobs still running; called after the scheduler stopped starting new ones.

        A run still going at the deadline is cancelled and awaited: the catalog and the database close
        right after, and must not close under it. Returns how many were cut off."""
        running = set(self._running)
        if not running:
            return 0
        late = await finish_or_cut_off(running, grace)
        if late:
            names = ", ".join(sorted(task.get_name() for task in late))
            logger.warning("%d job runs were still going after the grace period: cut off (%s)", len(late), names)
        return len(late)

    async def poll(self) -> None:
        """One cycle over every open order; each change reaches the user's chat, pushed by the replica holding
        the order's lease, which this one renews while the run goes on. A run that does not fit the interval is
        logged and told to the admins, once until runs fit again."""
        interval = self.settings.poll_interval_seconds
        clock = asyncio.get_running_loop().time
        started = clock()
        leases = getattr(self.tracker, "leases", None)
        async with leases.kept() if leases is not None else contextlib.nullcontext():
            run = await self.tracker.poll_run(interval)
            for order in run.changed:  # a run longer than a lease: another replica may hold it, and push it
                if await self.tracker.ours_to_deliver(order):
                    await self.notifications.deliver(order)
            for order in await self.tracker.undelivered():
                await self.notifications.deliver(order)
        POLL_SECONDS.observe(clock() - started)
        overrun = self.overruns.observe(run, clock() - started, interval)
        if overrun is not None:
            await self.notifications.alert(overrun)
        self.heartbeat.finish()

    async def watch_poll(self) -> None:
        """Tell the admins once when no poll run finished for 3 intervals (a run hanging on an upstream, a
        job that keeps failing); re-armed once a run finishes again. Sent again each check while no admin
        got it (network, 429)."""
        lag = self.heartbeat.lag()
        retry = self.lagging.pending
        if self.lagging.due(self.heartbeat.lagging()) and lag is not None:
            if not retry:
                logger.warning("no poll run finished for %.0f s (limit %g s)", lag, self.heartbeat.limit)
            alert = PollLagging(seconds=int(lag), interval=self.settings.poll_interval_seconds)
            self.lagging.sent(await self.notifications.alert(alert))

    async def expire(self) -> None:
        """Expire and refund the orders whose time ran out, and resolve unclear purchases; news of an order
        whose SMS another replica delivers is left to that one."""
        async with self.tracker.db.singleton("expire") as mine:
            if not mine:
                return
            for order in await self.tracker.expire_due():
                if await self.tracker.ours_to_deliver(order):
                    await self.notifications.deliver(order)
            for order in await self.tracker.resolve_unclear():
                if await self.tracker.ours_to_deliver(order):
                    await self.notifications.deliver(order)
                if order.status is OrderStatus.FAILED:
                    await self.notifications.alert(UnclearRefund(order))

    async def refresh_catalog(self) -> None:
        await self.catalog.refresh_all()

    async def retry_credits(self) -> None:
        async with self.tracker.db.singleton("stars_credit_retry") as mine:
            if mine:
                await self.payments.retry(self.notifications)

    async def upstream_alerts(self) -> None:
        async with self.tracker.db.singleton("upstream_alerts") as mine:
            if mine:
                await self.upstreams.check(self.notifications)

    async def release(self) -> None:
        """At a graceful stop, after the last run: this replica's order leases go to the others at once.
        Best effort: a database that cannot be written now lets them run out instead."""
        leases = getattr(self.tracker, "leases", None)
        if leases is None:
            return
        try:
            await leases.release()
        except Exception as exc:  # the database gone or unreachable: the leases run out by themselves
            logger.warning("order leases not released (they run out in %s): %s", leases.length, exc)

    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        """Every job once at a time, runs missed while busy merged into one."""
        every = self.settings.poll_interval_seconds
        jobs: list[tuple[Job, str, float, bool]] = [  # (job, id, seconds apart, first run at once)
            (self.poll, "poll", every, True),  # at once: a restart resumes every open order immediately
            (self.expire, "expire", max(every, 5.0), True),
            (self.refresh_catalog, "refresh_catalog", self.settings.catalog_ttl_seconds, True),
            (self.retry_credits, "stars_credit_retry", CREDIT_RETRY_SECONDS, True),
            (self.upstream_alerts, "upstream_alerts", ALERT_INTERVAL_MINUTES * 60, False),
            (self.watch_poll, "poll_watch", POLL_WATCH_SECONDS, False),
        ]
        self.heartbeat.start()  # a fresh start is no lag: it counts from here until the first run
        now = datetime.now(UTC)
        for job, name, seconds, at_once in jobs:
            first: dict[str, Any] = {"next_run_time": now} if at_once else {}
            scheduler.add_job(self.tracked(job), "interval", seconds=seconds, id=name, **first, **ONCE_AT_A_TIME)
        ScheduledBackups(self.settings, self.notifications).schedule(scheduler, self.tracked, ONCE_AT_A_TIME)
