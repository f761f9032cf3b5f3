"""Money under concurrency: many coroutines on the one connection never double-charge or leak."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from bot.money.billing import Billing
from bot.money.pricing import Pricing
from bot.orders.actions import OrderActions
from bot.orders.outcomes import Outcome, Result
from bot.orders.placing import Limits, OrderService
from bot.orders.tracking import Tracker
from bot.settings import Settings
from providers.base import Status
from providers.catalog import Catalog
from providers.demo import DemoProvider
from storage.db import Database
from storage.orders import REFUNDED, Order, OrderStatus
from tests.conftest import add_user
from tests.order_services import order_service

pytestmark = pytest.mark.postgres

Services = tuple[OrderService, Tracker, Billing]
PRICE = 59  # US whatsapp: demo cost 45 + 30 % markup, rounded up


async def _place(orders: OrderService, user_id: int, key: str) -> Result:
    return await orders.place(
        user_id=user_id, chat_id=user_id, request_key=key, country="US", service="whatsapp", confirmed=PRICE
    )


async def _bought(db: Database, orders: OrderService, user_id: int) -> Order:
    """``user_id``, holding one price, buys a number: the order placed."""
    await add_user(db, user_id, balance=PRICE)
    order = (await _place(orders, user_id, f"{user_id}:a")).order
    assert order is not None and order.upstream_id is not None
    return order


async def _ledger(db: Database, user_id: int) -> list[tuple[int, str, str, int | None]]:
    async with db.read() as conn:
        async with conn.execute(
            "SELECT amount, kind, reference, order_id FROM ledger WHERE user_id = ? ORDER BY id", (user_id,)
        ) as cur:
            return [(r[0], r[1], r[2], r[3]) for r in await cur.fetchall()]


async def _orders_of(db: Database, user_id: int) -> dict[int, tuple[OrderStatus, int]]:
    async with db.read() as conn:
        async with conn.execute("SELECT id, status, price FROM orders WHERE user_id = ?", (user_id,)) as cur:
            return {r[0]: (OrderStatus(r[1]), r[2]) for r in await cur.fetchall()}


async def test_hundred_confirms_buy_only_what_the_balance_covers(db: Database, services: Services) -> None:
    orders, _, billing = services
    await add_user(db, 40, balance=3 * PRICE + 7)
    results = await asyncio.gather(*(_place(orders, 40, f"40:{i}") for i in range(100)))
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Outcome.PLACED) == 3
    assert outcomes.count(Outcome.INSUFFICIENT) == 97
    placed = await _orders_of(db, 40)
    assert len(placed) == 3 and all(status is OrderStatus.ACTIVE for status, _ in placed.values())
    assert await billing.balance(40) == 7
    rows = await _ledger(db, 40)
    assert sum(amount for amount, *_ in rows) == 7
    assert sorted(order_id for _, kind, _, order_id in rows if kind == "purchase") == sorted(placed)
    assert await billing.reconcile() == []


async def test_two_users_placing_and_cancelling_never_touch_each_others_money(db: Database, services: Services) -> None:
    orders, tracker, billing = services
    credits = {50: 10 * PRICE, 51: 7 * PRICE + 3}
    for user_id, amount in credits.items():
        await add_user(db, user_id, balance=amount)

    async def session(user_id: int, other: int) -> None:
        placed = await asyncio.gather(*(_place(orders, user_id, f"{user_id}:{i}") for i in range(12)))
        ids = [r.order.id for r in placed if r.outcome is Outcome.PLACED]
        # cancel every other own order, and try the other user's orders too (never theirs to cancel)
        others = [o for o in await _orders_of(db, other) if o not in ids]
        attempts = [tracker.actions.cancel(i, user_id) for i in ids[::2]]
        attempts += [tracker.actions.cancel(i, user_id) for i in others]
        done = await asyncio.gather(*attempts)
        assert [r.outcome for r in done[: len(ids[::2])]] == [Outcome.CANCELLED] * len(ids[::2])
        assert all(r.outcome is Outcome.NOT_FOUND for r in done[len(ids[::2]) :])

    await asyncio.gather(session(50, 51), session(51, 50))
    for user_id, credited in credits.items():
        own = await _orders_of(db, user_id)
        kept = sum(price for status, price in own.values() if status not in REFUNDED)
        assert any(status is OrderStatus.CANCELLED for status, _ in own.values())
        assert await billing.balance(user_id) == credited - kept
        rows = await _ledger(db, user_id)
        assert sum(amount for amount, *_ in rows) == credited - kept
        assert {order_id for *_, order_id in rows if order_id is not None} == set(own)
        for order_id, (status, price) in own.items():
            refs = {ref: amount for amount, _, ref, oid in rows if oid == order_id}
            assert refs.pop(f"order:{order_id}:charge") == -price
            assert refs == ({f"order:{order_id}:refund": price} if status in REFUNDED else {})
    assert await billing.reconcile() == []


class PausingDemo(DemoProvider):
    """The demo upstream with pauses around its answers, to reorder a cancel against a poll."""

    def __init__(self) -> None:
        super().__init__(sms_delay_seconds=0)
        self.check_before = self.check_after = self.cancel_before = self.cancel_after = 0.0
        self.after_cancel: Callable[[], Awaitable[object]] | None = None

    async def check(self, upstream_id: str) -> Status:
        await asyncio.sleep(self.check_before)
        status = await super().check(upstream_id)
        await asyncio.sleep(self.check_after)
        return status

    async def cancel(self, upstream_id: str) -> None:
        await asyncio.sleep(self.cancel_before)
        await super().cancel(upstream_id)
        if self.after_cancel is not None:
            await self.after_cancel()
        await asyncio.sleep(self.cancel_after)


@pytest.fixture
def paused(db: Database, settings: Settings) -> tuple[PausingDemo, OrderService, Tracker]:
    upstream = PausingDemo()
    many = Limits(max_open=1000, per_minute=1000)  # one user places every schedule in a row
    orders = order_service(db, Catalog([upstream]), Pricing(settings), timedelta(minutes=20), limits=many)
    return upstream, orders, Tracker(orders, OrderActions(orders), concurrency=4)


async def test_cancel_racing_a_delivered_code_refunds_or_keeps_the_code_never_both(
    db: Database, paused: tuple[PausingDemo, OrderService, Tracker]
) -> None:
    upstream, orders, tracker = paused
    schedules = list(itertools.product((0.0, 0.05), repeat=4))
    await add_user(db, 60, balance=len(schedules) * PRICE)
    finals: set[OrderStatus] = set()
    for n, pauses in enumerate(schedules):
        upstream.check_before, upstream.check_after, upstream.cancel_before, upstream.cancel_after = pauses
        order = (await _place(orders, 60, f"60:{n}")).order
        assert order is not None
        cancel, _ = await asyncio.gather(tracker.actions.cancel(order.id, 60), tracker.poll_all())
        await tracker.poll_all()  # a later poll must not change the verdict either
        final = await orders.get(order.id)
        assert final is not None
        finals.add(final.status)
        refunds = [r for r in await _ledger(db, 60) if r[2] == f"order:{order.id}:refund"]
        if final.status is OrderStatus.CANCELLED:
            assert [amount for amount, *_ in refunds] == [PRICE], pauses
        else:
            assert final.status is OrderStatus.CODE_RECEIVED, pauses
            assert cancel.outcome is Outcome.HAS_CODE, pauses
            assert refunds == [], pauses
            assert len(await orders.sms(order.id)) == 1, pauses
        if cancel.outcome is Outcome.CANCELLED:
            assert final.status is OrderStatus.CANCELLED, pauses
    assert finals == {OrderStatus.CANCELLED, OrderStatus.CODE_RECEIVED}  # both orders of events happened
    assert await Billing(db, "USD").balance(60) == len(schedules) * PRICE - PRICE * sum(
        status is not OrderStatus.CANCELLED for status, _ in (await _orders_of(db, 60)).values()
    )
    assert await Billing(db, "USD").reconcile() == []


async def test_code_seen_before_a_cancel_is_not_delivered_after_the_refund(
    db: Database, paused: tuple[PausingDemo, OrderService, Tracker]
) -> None:
    upstream, orders, tracker = paused
    order = await _bought(db, orders, 61)
    seen = await upstream.check(order.upstream_id)  # the poll job got the code ...
    assert (await tracker.actions.cancel(order.id, 61)).outcome is Outcome.CANCELLED  # ... the cancel won the lock
    await tracker.record(order, seen)  # ... then the poll stores what it saw
    assert (await orders.get(order.id)).status is OrderStatus.CANCELLED
    assert await Billing(db, "USD").balance(61) == PRICE  # refunded
    assert await tracker.undelivered() == []  # so the code must never reach the user


async def test_cancel_reports_cancelled_when_a_poll_closed_the_order_first(
    db: Database, paused: tuple[PausingDemo, OrderService, Tracker]
) -> None:
    upstream, orders, tracker = paused
    order = await _bought(db, orders, 62)
    upstream.after_cancel = tracker.poll_all  # the poll job runs between the upstream cancel and the refund
    result = await tracker.actions.cancel(order.id, 62)
    final = await orders.get(order.id)
    assert final is not None and final.status in REFUNDED
    assert await Billing(db, "USD").balance(62) == PRICE
    assert result.outcome is Outcome.CANCELLED  # not HAS_CODE: no code exists, the money is back


async def test_twenty_taps_on_one_confirm_charge_once(db: Database, services: Services) -> None:
    orders, _, billing = services
    await add_user(db, 70, balance=10 * PRICE)
    results = await asyncio.gather(*(_place(orders, 70, "70:same") for _ in range(20)))
    assert len({r.order.id for r in results if r.order is not None}) == 1
    assert [r.outcome for r in results].count(Outcome.PLACED) == 1
    assert all(r.outcome in (Outcome.PLACED, Outcome.DUPLICATE) for r in results)
    assert len(await _orders_of(db, 70)) == 1
    assert [kind for _, kind, *_ in await _ledger(db, 70)] == ["admin_credit", "purchase"]
    assert await billing.balance(70) == 9 * PRICE
