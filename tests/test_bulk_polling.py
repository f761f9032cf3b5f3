"""The poll job at an upstream that lists every open order in one call (``can_list_active``): one call a cycle
answers for all of them, only orders missing from it are checked one by one, a failing list falls back to
per-order checks, and a quiet cycle writes nothing. Counted in upstream calls and transactions, never timed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

import aiosqlite
import pytest

from bot.money.pricing import Pricing
from bot.orders import polling
from bot.orders.actions import OrderActions
from bot.orders.tracking import Tracker
from bot.settings import Settings
from providers.base import Balance, Offer, Provider, Purchase, Sms, Status, UpstreamState
from providers.catalog import Catalog
from providers.errors import Unavailable
from providers.guard import GuardedProvider
from storage import orders as order_rows
from storage.db import Database
from storage.orders import Order, OrderStatus
from tests.conftest import add_user, charged_order
from tests.order_services import order_service

pytestmark = pytest.mark.postgres

USER = 700
PRICE = 59
INTERVAL = 5.0


class Lister(Provider):
    """An in-process upstream with a bulk read; counts every call it answers."""

    name = "lister"
    can_list_active = True
    read_rate: float | None = None  # reads per second the guard would allow; None: no budget

    def __init__(self) -> None:
        self.statuses: dict[str, Status] = {}  # upstream id -> what the upstream says
        self.unlisted: set[str] = set()  # open, but left out of active()'s answer
        self.listing_fails = False
        self.calls: list[str] = []

    def sms_arrives(self, upstream_id: str, code: str) -> None:
        self.statuses[upstream_id] = Status(UpstreamState.RECEIVED, (Sms(f"Your code is {code}", code),))

    async def active(self) -> dict[str, Status]:
        self.calls.append("active")
        if self.listing_fails:
            raise Unavailable("list down", provider=self.name)
        return {uid: s for uid, s in self.statuses.items() if uid not in self.unlisted}

    async def check(self, upstream_id: str) -> Status:
        self.calls.append(f"check {upstream_id}")
        return self.statuses[upstream_id]

    async def offers(self, country: str | None = None) -> list[Offer]:
        return []

    async def buy(self, offer: Offer) -> Purchase:
        raise NotImplementedError

    async def cancel(self, upstream_id: str) -> None:
        raise NotImplementedError

    async def balance(self) -> Balance:
        return Balance(0, "USD")


async def waiting_orders(db: Database, upstream: Lister, n: int) -> list[Order]:
    """``n`` orders waiting for SMS at ``upstream``, oldest first."""
    await add_user(db, USER, balance=n * PRICE)
    orders: list[Order] = []
    async with db.transaction() as conn:
        for i in range(n):
            order = await _active_order(conn, i)
            upstream.statuses[order.upstream_id or ""] = Status(UpstreamState.WAITING)
            orders.append(order)
    return orders


async def _active_order(conn: aiosqlite.Connection, i: int) -> Order:
    order = await charged_order(
        conn,
        user_id=USER,
        price=PRICE,
        request_key=f"{USER}:{i}",
        provider=Lister.name,
        country="US",
        service="whatsapp",
        expires_at=datetime.now(UTC) + timedelta(minutes=20),
    )
    active = await order_rows.update(
        conn, order.id, expect=(OrderStatus.PENDING,), status=OrderStatus.ACTIVE, upstream_id=f"a{i}", phone=f"+1{i}"
    )
    assert active is not None
    return active


def _tracker(db: Database, settings: Settings, provider: Provider) -> Tracker:
    orders = order_service(db, Catalog([provider]), Pricing(settings), timedelta(minutes=20))
    return Tracker(orders, OrderActions(orders), concurrency=4)


@pytest.fixture
def upstream() -> Lister:
    return Lister()


@pytest.fixture
def transactions(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the write transactions opened on ``db`` (a test clears it once its world is built)."""
    opened: list[int] = []
    real = db.transaction

    def counted() -> AbstractAsyncContextManager[aiosqlite.Connection]:
        opened.append(1)
        return real()

    monkeypatch.setattr(db, "transaction", counted)
    yield opened


async def test_100_open_orders_at_5_per_second_get_every_code_in_the_first_cycle_with_one_call(
    db: Database, settings: Settings, upstream: Lister
) -> None:
    """The issue's scenario: 100 open orders at an upstream allowing 5 requests/s, a 5 s interval, ten SMS."""
    guarded = GuardedProvider(upstream, rate=5, failures=100, cooldown=1)
    orders = await waiting_orders(db, upstream, 100)
    tracker = _tracker(db, settings, guarded)
    with_sms = orders[::10]
    for order in with_sms:
        upstream.sms_arrives(order.upstream_id or "", f"{order.id:06d}")
    run = await tracker.poll_run(INTERVAL)
    assert upstream.calls == ["active"]
    assert (run.orders, run.bulk_calls, run.checks, run.deferred) == (100, 1, 0, 0)
    assert sorted(o.id for o in run.changed) == [o.id for o in with_sms]
    for order in with_sms:
        assert [s.code for s in await tracker.orders.sms(order.id)] == [f"{order.id:06d}"]
        assert (await tracker.orders.get(order.id)).status is OrderStatus.CODE_RECEIVED
    assert (await tracker.orders.get(orders[1].id)).status is OrderStatus.ACTIVE


async def test_orders_missing_from_the_list_are_checked_one_by_one(
    db: Database, settings: Settings, upstream: Lister
) -> None:
    orders = await waiting_orders(db, upstream, 20)
    tracker = _tracker(db, settings, upstream)
    gone, quiet = orders[3], orders[7]
    upstream.unlisted = {gone.upstream_id or "", quiet.upstream_id or ""}
    upstream.statuses[gone.upstream_id or ""] = Status(UpstreamState.CANCELLED)  # closed upstream
    run = await tracker.poll_run(INTERVAL)
    assert sorted(upstream.calls) == ["active", f"check {gone.upstream_id}", f"check {quiet.upstream_id}"]
    assert (run.bulk_calls, run.checks) == (1, 2)
    assert [(o.id, o.status) for o in run.changed] == [(gone.id, OrderStatus.CANCELLED)]


async def test_missing_orders_are_checked_within_the_read_budget_left_after_the_list(
    db: Database, settings: Settings, upstream: Lister
) -> None:
    guarded = GuardedProvider(upstream, rate=1, failures=100, cooldown=1)  # reads: 0.75/s, 3 calls in 5 s
    orders = await waiting_orders(db, upstream, 10)
    tracker = _tracker(db, settings, guarded)
    upstream.unlisted = {o.upstream_id or "" for o in orders}
    run = await tracker.poll_run(INTERVAL)
    assert (run.bulk_calls, run.checks, run.deferred) == (1, 2, 8)
    assert upstream.calls[0] == "active" and len(upstream.calls) == 3


async def test_a_failing_list_falls_back_to_per_order_checks_and_is_logged_once(
    db: Database,
    settings: Settings,
    upstream: Lister,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    orders = await waiting_orders(db, upstream, 5)
    tracker = _tracker(db, settings, upstream)
    upstream.listing_fails = True
    upstream.sms_arrives(orders[2].upstream_id or "", "424242")
    monkeypatch.setattr(polling, "BULK_RETRY", 0.0)  # tried again at once: the log is still once
    with caplog.at_level(logging.INFO, logger="bot.orders.polling"):
        first = await tracker.poll_run(INTERVAL)
        second = await tracker.poll_run(INTERVAL)
        upstream.listing_fails = False
        upstream.calls.clear()
        third = await tracker.poll_run(INTERVAL)
    assert [o.id for o in first.changed] == [orders[2].id]  # the code came through the per-order check
    assert (first.checks, second.checks, third.checks) == (5, 5, 0)
    assert upstream.calls == ["active"]
    failed = [r for r in caplog.records if "listing open orders failed" in r.getMessage()]
    again = [r for r in caplog.records if "listing open orders works again" in r.getMessage()]
    assert len(failed) == 1 and failed[0].levelno == logging.WARNING
    assert len(again) == 1


async def test_a_quiet_cycle_opens_no_write_transaction(
    db: Database, settings: Settings, upstream: Lister, transactions: list[int]
) -> None:
    orders = await waiting_orders(db, upstream, 30)
    tracker = _tracker(db, settings, upstream)
    for order in orders[:10]:
        upstream.sms_arrives(order.upstream_id or "", "111222")
    transactions.clear()
    assert len(await tracker.poll_all()) == 10
    assert len(transactions) == 10  # one per order with a new SMS
    transactions.clear()
    assert await tracker.poll_all() == []  # the ten still listed with their SMS: nothing new
    assert await tracker.poll_all() == []
    assert transactions == []


async def test_a_per_order_check_repeating_stored_sms_opens_no_write_transaction(
    db: Database, settings: Settings, upstream: Lister, transactions: list[int]
) -> None:
    orders = await waiting_orders(db, upstream, 3)
    tracker = _tracker(db, settings, upstream)
    upstream.listing_fails = True
    upstream.sms_arrives(orders[0].upstream_id or "", "333444")
    assert [o.id for o in await tracker.poll_all()] == [orders[0].id]
    transactions.clear()
    assert await tracker.poll(orders[0]) is None
    assert transactions == []
    upstream.statuses[orders[0].upstream_id or ""] = Status(
        UpstreamState.RECEIVED, (Sms("Your code is 333444", "333444"), Sms("Your code is 555666", "555666"))
    )
    assert await tracker.poll(orders[0]) is not None  # a second SMS is new: stored
    assert [s.code for s in await tracker.orders.sms(orders[0].id)] == ["333444", "555666"]


async def test_a_listed_sms_of_an_order_refunded_meanwhile_is_not_stored(
    db: Database, settings: Settings, upstream: Lister
) -> None:
    orders = await waiting_orders(db, upstream, 2)
    tracker = _tracker(db, settings, upstream)
    assert (await tracker.actions.close_without_code(orders[0], OrderStatus.EXPIRED, "test")) is not None
    upstream.sms_arrives(orders[0].upstream_id or "", "999000")
    assert await tracker.record(orders[0], upstream.statuses[orders[0].upstream_id or ""], set()) is None
    assert await tracker.orders.sms(orders[0].id) == []
