"""A poll run that does not fit its interval (slower than it, or leaving due checks over the read budget) is
logged with its figures and told to the admins once, until runs fit again; then the watch is armed again.
Runs are judged on the seconds they are given, never on the clock."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, cast

import pytest
from aiogram.utils.i18n import I18n

from bot.app import LOCALES
from bot.jobs import REARM_AFTER, Jobs, OverrunWatch
from bot.money.pricing import Pricing
from bot.notifications import Alert, PollOverrun
from bot.orders.actions import OrderActions
from bot.orders.polling import PollRun
from bot.orders.tracking import Tracker
from bot.settings import Settings
from handlers.texts.alerts import alert_text
from providers.catalog import Catalog
from storage.db import Database
from storage.orders import Order
from tests.order_services import order_service
from tests.test_bulk_polling import Lister, waiting_orders

pytestmark = pytest.mark.postgres

INTERVAL = 5.0


class Told:
    """The Notifications port, keeping what it is given."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def deliver(self, order: Order) -> None:
        pass

    async def alert(self, alert: Alert) -> None:
        self.alerts.append(alert)


def test_the_first_run_over_its_interval_is_told_once_with_its_figures(caplog: pytest.LogCaptureFixture) -> None:
    watch = OverrunWatch()
    slow = PollRun(orders=10_000, checks=100, bulk_calls=1)
    with caplog.at_level(logging.INFO, logger="bot.jobs"):
        assert watch.observe(PollRun(orders=5, checks=5), 0.1, INTERVAL) is None
        first = watch.observe(slow, 7.25, INTERVAL)
        assert watch.observe(slow, 9.0, INTERVAL) is None  # still slow: told already
        for _ in range(REARM_AFTER - 1):  # fits again, but not yet long enough to re-arm
            assert watch.observe(PollRun(orders=10), 0.5, INTERVAL) is None
        assert watch.observe(slow, 9.5, INTERVAL) is None  # at the edge: not told again
        for _ in range(REARM_AFTER):  # fits long enough: logged, re-armed
            assert watch.observe(PollRun(orders=10), 0.5, INTERVAL) is None
        again = watch.observe(slow, 5.5, INTERVAL)
    assert first == PollOverrun(orders=10_000, checks=100, bulk_calls=1, deferred=0, seconds=7.25, interval=INTERVAL)
    assert again is not None and again.seconds == 5.5
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "poll run cannot keep up: 10000 open orders, 100 checks, 1 bulk calls, 0 checks left for later, "
        "7.2 s against an interval of 5.0 s",
        "poll run cannot keep up: 10000 open orders, 100 checks, 1 bulk calls, 0 checks left for later, "
        "5.5 s against an interval of 5.0 s",
    ]
    assert sum("poll runs fit again" in r.getMessage() for r in caplog.records) == 1


def test_a_run_in_time_that_left_due_checks_for_later_did_not_fit() -> None:
    watch = OverrunWatch()
    alert = watch.observe(PollRun(orders=500, checks=75, deferred=425), 1.0, INTERVAL)
    assert alert is not None and alert.deferred == 425
    assert watch.observe(PollRun(orders=500, checks=75), INTERVAL, INTERVAL) is None  # exactly in time fits


def test_the_admins_read_the_figures() -> None:
    alert = PollOverrun(orders=10_000, checks=75, bulk_calls=2, deferred=425, seconds=12.34, interval=INTERVAL)
    with I18n(path=LOCALES, default_locale="en", domain="messages").context():
        text = alert_text(alert)
    assert "cannot keep up" in text
    for figure in ("10000", "12.3 s", "interval 5 s", "75", "bulk reads: 2", "425"):
        assert figure in text


async def test_the_poll_job_tells_the_admins_once_while_its_budget_runs_short(db: Database, settings: Settings) -> None:
    upstream = Lister()
    upstream.can_list_active = False  # per-order checks only
    upstream.read_rate = 0.5  # two checks in a 5 s interval (the run plans 80 % of 2.5)
    await waiting_orders(db, upstream, 5)
    service = order_service(db, Catalog([upstream]), Pricing(settings), timedelta(minutes=20))
    told = Told()
    jobs = Jobs(Tracker(service, OrderActions(service), 4), cast(Any, told), *cast(Any, (None, None, None)), settings)
    await jobs.poll()
    await jobs.poll()
    assert len(upstream.calls) == 4  # two checks a run
    assert [(a.orders, a.checks, a.deferred) for a in told.alerts] == [(5, 2, 3)]  # type: ignore[union-attr]
    upstream.read_rate = 100
    await jobs.poll()  # every due check made
    assert len(upstream.calls) == 9
    for _ in range(REARM_AFTER - 1):  # runs that fit, long enough to re-arm
        await jobs.poll()
    upstream.read_rate = 0.001
    await jobs.poll()
    assert len(told.alerts) == 2
