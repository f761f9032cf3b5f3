"""Slow and faulty upstreams against the grace sweep: nothing is settled behind a purchase's back,
nothing is bought after its order was settled, and every upstream purchase gets exactly one outcome."""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import UTC, datetime, timedelta

import pytest

from bot.money.pricing import Pricing
from bot.orders.actions import OrderActions
from bot.orders.outcomes import Outcome
from bot.orders.placing import Limits
from bot.orders.tracking import Tracker
from bot.settings import Settings
from providers.base import Balance, Offer, Provider, Purchase, Sms, Status, UpstreamState
from providers.catalog import Catalog
from providers.errors import CancelRefused, OutOfStock, ProviderError, Unavailable, UnclearResult
from storage import purchases
from storage.db import Database
from storage.orders import Order, OrderStatus
from storage.purchases import Outcome as Spent
from storage.purchases import WriteOff
from tests.conftest import add_user
from tests.order_services import order_service

pytestmark = pytest.mark.postgres

USER, START = 400, 10_000
GRACE = timedelta(seconds=0.2)


class Scripted(Provider):
    """An upstream whose every answer a test sets: delays, errors, states, cancel and renew results."""

    def __init__(self, name: str, *, cost: int = 20, can_cancel: bool = True, can_lookup: bool = False) -> None:
        self.name = name
        self.cost = cost
        self.can_cancel = can_cancel
        self.can_lookup = can_lookup
        self.can_renew = True
        self.buy_delay = 0.0
        self.buy_error: ProviderError | None = None
        self.buys = 0
        self.cancels: list[str] = []
        self.cancel_error: ProviderError | None = None
        self.statuses: deque[Status | ProviderError] = deque()
        self.renew_delay = 0.0
        self.renew_error: ProviderError | None = None
        self.renewed: list[tuple[str, int]] = []
        self.expires = datetime.now(UTC) + timedelta(days=7)
        self.lookup_result: Purchase | None = None
        self.lookup_delay = 0.0
        self.says_expiry = True  # renew() answers the new expiry

    async def offers(self, country: str | None = None) -> list[Offer]:
        return [
            Offer(self.name, "whatsapp", "US", self.cost, "USD", 100),
            Offer(self.name, "whatsapp", "US", self.cost * 7, "USD", 100, rent_days=7),
        ]

    async def buy(self, offer: Offer) -> Purchase:
        self.buys += 1
        n = self.buys
        await asyncio.sleep(self.buy_delay)
        if self.buy_error is not None:
            raise self.buy_error
        return Purchase(f"{self.name}-{n}", f"+1555000{n:04d}", self.expires if offer.rent_days else None)

    async def check(self, upstream_id: str) -> Status:
        if not self.statuses:
            return Status(UpstreamState.WAITING, expires_at=self.expires)
        answer = self.statuses.popleft()
        if isinstance(answer, ProviderError):
            raise answer
        return answer

    async def cancel(self, upstream_id: str) -> None:
        if self.cancel_error is not None:
            raise self.cancel_error
        self.cancels.append(upstream_id)

    async def balance(self) -> Balance:
        return Balance(0, "USD")

    async def lookup(self, offer: Offer, since: datetime) -> Purchase | None:
        await asyncio.sleep(self.lookup_delay)
        return self.lookup_result

    async def renew(self, upstream_id: str, days: int) -> datetime | None:
        await asyncio.sleep(self.renew_delay)
        if self.renew_error is not None:
            raise self.renew_error
        self.renewed.append((upstream_id, days))
        self.expires += timedelta(days=days)
        return self.expires if self.says_expiry else None


async def _world(db: Database, settings: Settings, *upstreams: Scripted, deadline: float = 5.0) -> Tracker:
    """The order services over ``upstreams``, and the user holding START."""
    limits = Limits(call_deadline=deadline, routing_deadline=deadline * 2)
    orders = order_service(db, Catalog(list(upstreams)), Pricing(settings), timedelta(minutes=20), limits=limits)
    await add_user(db, USER, START)
    return Tracker(orders, OrderActions(orders), concurrency=4, pending_grace=GRACE)


def _lossy_box() -> Scripted:
    """An upstream with no cancel that can look purchases up, and whose next buy has an unclear outcome."""
    box = Scripted("box", can_cancel=False, can_lookup=True)
    box.buy_error = UnclearResult("lost", provider="box")
    return box


async def _place(tracker: Tracker, key: str, days: int | None = None) -> object:
    quote = await tracker.orders.quote("US", "whatsapp", days)
    assert quote is not None
    return await tracker.orders.place(
        user_id=USER, chat_id=USER, request_key=key, country="US", service="whatsapp", confirmed=quote.price,
        rent_days=days, accept_nonrefundable=True,
    )  # fmt: skip


async def _bought(
    db: Database, settings: Settings, name: str = "sa", days: int | None = None
) -> tuple[Scripted, Tracker, Order]:
    """A world over one upstream with one order placed there: a number, or a rental of ``days``."""
    upstream = Scripted(name)
    tracker = await _world(db, settings, upstream)
    return upstream, tracker, (await _place(tracker, "a", days)).order


async def _rental(db: Database, settings: Settings) -> tuple[Scripted, Tracker, Order, int]:
    """A world over one upstream with a week's rental placed, and the price of renewing it by a week."""
    upstream, tracker, order = await _bought(db, settings, "rent", days=7)
    return upstream, tracker, order, await tracker.actions.renewal_price(order, 7)


async def _outcomes(db: Database, order_id: int) -> list[tuple[str, str | None, str | None]]:
    async with db.read() as conn:
        return [(p.kind, p.outcome, p.reason) for p in await purchases.of_order(conn, order_id)]


async def _balance(db: Database) -> int:
    async with db.read() as conn:
        async with conn.execute("SELECT balance FROM users WHERE id = ?", (USER,)) as cur:
            return (await cur.fetchone())[0]


async def test_the_sweep_leaves_a_purchase_in_flight_alone(db: Database, settings: Settings) -> None:
    slow = Scripted("slow")
    slow.buy_delay = 0.6  # three times the grace period
    tracker = await _world(db, settings, slow)
    placing = asyncio.create_task(_place(tracker, "a"))
    await asyncio.sleep(0.3)
    assert await tracker.resolve_unclear(now=datetime.now(UTC) + GRACE * 10) == []
    result = await placing
    assert result.outcome is Outcome.PLACED and result.order.status is OrderStatus.ACTIVE
    assert await _balance(db) == START - result.order.price
    assert await _outcomes(db, result.order.id) == [("number", None, None)]


async def test_a_buy_past_its_deadline_is_unclear_then_written_off(db: Database, settings: Settings) -> None:
    hung = Scripted("hung")
    hung.buy_delay = 3600
    tracker = await _world(db, settings, hung, deadline=0.2)
    result = await _place(tracker, "a")
    assert result.outcome is Outcome.UNKNOWN and result.order.status is OrderStatus.UNKNOWN
    later = datetime.now(UTC) + timedelta(hours=1)
    [failed] = await tracker.resolve_unclear(now=later)
    assert failed.status is OrderStatus.FAILED and await _balance(db) == START
    assert await _outcomes(db, failed.id) == [("number", Spent.WRITTEN_OFF, WriteOff.UNCLEAR)]


async def test_routing_stops_once_the_order_was_settled(db: Database, settings: Settings) -> None:
    first, second = Scripted("first"), Scripted("second", cost=21)
    first.buy_delay, first.buy_error = 0.3, OutOfStock("gone", provider="first")
    tracker = await _world(db, settings, first, second)
    placing = asyncio.create_task(_place(tracker, "a"))
    await asyncio.sleep(0.1)
    async with db.read() as conn:
        async with conn.execute("SELECT id FROM orders") as cur:
            order_id = (await cur.fetchone())[0]
    await tracker.orders.close_with_refund(order_id, OrderStatus.FAILED, (OrderStatus.PENDING,), "settled elsewhere")
    await placing
    assert second.buys == 0  # nothing bought for an order already refunded
    assert await _balance(db) == START


@pytest.mark.parametrize("can_cancel", [True, False])
async def test_a_number_bought_after_its_order_was_settled_is_cancelled_or_written_off(
    db: Database, settings: Settings, can_cancel: bool
) -> None:
    late = Scripted("late", can_cancel=can_cancel)
    late.buy_delay = 0.3
    tracker = await _world(db, settings, late)
    placing = asyncio.create_task(_place(tracker, "a"))
    await asyncio.sleep(0.1)
    await tracker.orders.close_with_refund(1, OrderStatus.FAILED, (OrderStatus.PENDING,), "settled elsewhere")
    result = await placing
    assert result.order.status is OrderStatus.FAILED and await _balance(db) == START
    expected = (Spent.UPSTREAM_REFUNDED, None) if can_cancel else (Spent.WRITTEN_OFF, WriteOff.ORPHANED)
    assert await _outcomes(db, 1) == [("number", *expected)]
    assert late.cancels == (["late-1"] if can_cancel else [])


async def test_a_lookup_never_claims_a_purchase_still_in_flight(db: Database, settings: Settings) -> None:
    box = _lossy_box()
    tracker = await _world(db, settings, box)
    lost = await _place(tracker, "lost")
    assert lost.order.status is OrderStatus.UNKNOWN
    box.buy_error, box.buy_delay = None, 0.4
    placing = asyncio.create_task(_place(tracker, "b"))
    await asyncio.sleep(0.1)
    box.lookup_result = Purchase("box-2", "+15550000002")  # what the upstream would list: b's number
    assert await tracker.resolve_unclear(now=datetime.now(UTC) + GRACE * 10) == []
    assert (await tracker.orders.get(lost.order.id)).status is OrderStatus.UNKNOWN  # deferred, not claimed
    placed = await placing
    assert placed.outcome is Outcome.PLACED and placed.order.upstream_id == "box-2"


async def test_a_refused_cancel_at_expiry_polls_again_and_delivers_the_code(db: Database, settings: Settings) -> None:
    upstream, tracker, order = await _bought(db, settings)
    upstream.statuses.extend(
        [Unavailable("down", provider="sa"), Status(UpstreamState.RECEIVED, (Sms("Your code is 4321"),))]
    )
    upstream.cancel_error = CancelRefused("a code arrived", provider="sa")
    later = datetime.now(UTC) + timedelta(hours=1)  # past the patience: the first failed poll is not waited for
    await tracker.expire_due(now=later)
    got = await tracker.orders.get(order.id)
    assert got.status is OrderStatus.CODE_RECEIVED and await _balance(db) == START - order.price
    assert await _outcomes(db, order.id) == [("number", Spent.SOLD, None)]


async def test_a_refused_cancel_at_expiry_without_a_code_is_refunded_and_written_off(
    db: Database, settings: Settings
) -> None:
    upstream, tracker, order = await _bought(db, settings)
    upstream.cancel_error = CancelRefused("too late", provider="sa")
    await tracker.expire_due(now=datetime.now(UTC) + timedelta(hours=1))
    got = await tracker.orders.get(order.id)
    assert got.status is OrderStatus.EXPIRED and await _balance(db) == START
    assert await _outcomes(db, order.id) == [("number", Spent.WRITTEN_OFF, WriteOff.CANCEL_REFUSED)]


async def test_an_unreachable_upstream_at_expiry_is_asked_again_before_anything_is_refunded(
    db: Database, settings: Settings
) -> None:
    upstream, tracker, order = await _bought(db, settings)
    upstream.cancel_error = Unavailable("down", provider="sa")
    just_expired = order.expires_at + timedelta(seconds=1)
    assert await tracker.expire_due(now=just_expired) == []
    assert (await tracker.orders.get(order.id)).status is OrderStatus.ACTIVE
    upstream.cancel_error = None
    await tracker.expire_due(now=just_expired + timedelta(minutes=1))
    assert (await tracker.orders.get(order.id)).status is OrderStatus.EXPIRED and await _balance(db) == START
    assert await _outcomes(db, order.id) == [("number", Spent.UPSTREAM_REFUNDED, None)]


async def test_a_renewal_outlasting_the_grace_is_not_refunded_behind_its_back(db: Database, settings: Settings) -> None:
    upstream, tracker, order, price = await _rental(db, settings)
    upstream.renew_delay = 0.6
    renewing = asyncio.create_task(tracker.actions.renew(order.id, USER, 7, "n1", price))
    await asyncio.sleep(0.3)
    await tracker.resolve_unclear(now=datetime.now(UTC) + GRACE * 10)
    result = await renewing
    assert result.outcome is Outcome.RENEWED
    assert await _balance(db) == START - order.price - price  # charged once, not refunded
    assert ("renewal", Spent.SOLD, None) in await _outcomes(db, order.id)


@pytest.mark.parametrize("extended", [True, False])
async def test_an_unclear_renewal_is_checked_then_applied_or_refunded(
    db: Database, settings: Settings, extended: bool
) -> None:
    upstream, tracker, order, price = await _rental(db, settings)
    upstream.renew_error = UnclearResult("timeout after send", provider="rent")
    result = await tracker.actions.renew(order.id, USER, 7, "n1", price)
    assert result.outcome is Outcome.UNKNOWN
    assert await _balance(db) == START - order.price - price  # held, neither kept nor refunded yet
    if extended:
        upstream.expires += timedelta(days=7)  # the upstream did renew
    await tracker.resolve_unclear(now=datetime.now(UTC) + GRACE * 10)
    renewed = await tracker.orders.get(order.id)
    if extended:
        assert renewed.rent_days == 14 and renewed.expires_at == upstream.expires
        assert await _balance(db) == START - order.price - price
        assert ("renewal", Spent.SOLD, None) in await _outcomes(db, order.id)
    else:
        assert renewed.rent_days == 7 and await _balance(db) == START - order.price
        assert [o for o in await _outcomes(db, order.id) if o[0] == "renewal"] == []


async def test_an_unclear_renewal_that_cannot_be_checked_is_refunded_and_written_off(
    db: Database, settings: Settings
) -> None:
    upstream, tracker, order, price = await _rental(db, settings)
    upstream.renew_error = UnclearResult("timeout after send", provider="rent")
    await tracker.actions.renew(order.id, USER, 7, "n1", price)
    upstream.statuses.extend([Unavailable("down", provider="rent")] * 2)
    await tracker.resolve_unclear(now=datetime.now(UTC) + GRACE * 10)
    assert await _balance(db) == START - order.price - price  # not yet: the upstream may still answer
    await tracker.resolve_unclear(now=datetime.now(UTC) + timedelta(hours=1))
    assert await _balance(db) == START - order.price
    assert ("renewal", Spent.WRITTEN_OFF, WriteOff.RENEWAL_UNCLEAR) in await _outcomes(db, order.id)


async def test_per_user_limits_on_open_orders_and_purchases_a_minute(db: Database, settings: Settings) -> None:
    upstream = Scripted("sa")
    limits = Limits(max_open=2, per_minute=3)
    orders = order_service(db, Catalog([upstream]), Pricing(settings), timedelta(minutes=20), limits=limits)
    tracker = Tracker(orders, OrderActions(orders), concurrency=4)
    await add_user(db, USER, START)
    first, second = await _place(tracker, "a"), await _place(tracker, "b")
    third = await _place(tracker, "c")
    assert third.outcome is Outcome.TOO_MANY_OPEN and third.limit == 2 and third.order is None
    await tracker.actions.cancel(first.order.id, USER)
    assert (await _place(tracker, "d")).outcome is Outcome.PLACED
    await tracker.actions.cancel(second.order.id, USER)
    fifth = await _place(tracker, "e")
    assert fifth.outcome is Outcome.TOO_FAST and fifth.limit == 3
    assert upstream.buys == 3 and await _balance(db) == START - first.order.price


async def test_a_lookup_that_overlaps_a_new_purchase_claims_nothing(db: Database, settings: Settings) -> None:
    box = _lossy_box()
    tracker = await _world(db, settings, box)
    lost = await _place(tracker, "lost")
    box.buy_error, box.lookup_delay = None, 0.4
    box.lookup_result = Purchase("box-2", "+15550000002")  # the number the purchase below will get
    sweeping = asyncio.create_task(tracker.resolve_unclear(now=datetime.now(UTC) + GRACE * 10))
    await asyncio.sleep(0.1)
    placed = await _place(tracker, "b")  # starts and ends while the lookup is out
    assert await sweeping == []
    assert (await tracker.orders.get(lost.order.id)).status is OrderStatus.UNKNOWN
    assert placed.outcome is Outcome.PLACED and placed.order.upstream_id == "box-2"


async def test_a_purchase_found_by_lookup_keeps_the_terms_the_user_confirmed(db: Database, settings: Settings) -> None:
    box = _lossy_box()
    tracker = await _world(db, settings, box)
    rental = await _place(tracker, "r", days=7)  # a rental at an upstream with no cancel: not refundable
    assert rental.order.status is OrderStatus.UNKNOWN and not rental.order.refundable
    box.lookup_result = Purchase("box-1", "+15550000001", box.expires)
    [found] = await tracker.resolve_unclear(now=datetime.now(UTC) + GRACE * 10)
    assert found.status is OrderStatus.ACTIVE and not found.refundable
    assert (await tracker.actions.cancel(found.id, USER)).outcome is Outcome.NOT_REFUNDABLE
    assert await _balance(db) == START - rental.order.price


async def test_open_refundable_orders_count_against_the_write_off_limit(db: Database, settings: Settings) -> None:
    box = Scripted("box", can_cancel=False)
    tracker = await _world(db, settings, box)
    quote = await tracker.orders.quote("US", "whatsapp")

    async def confirm(n: int) -> Outcome:
        result = await tracker.orders.place(
            user_id=USER, chat_id=USER, request_key=f"k{n}", country="US", service="whatsapp", confirmed=quote.price
        )
        return result.outcome

    outcomes = await asyncio.gather(*(confirm(n) for n in range(6)))  # six Confirms at once, none cancelled yet
    assert sorted(outcomes) == sorted([Outcome.PLACED] * 3 + [Outcome.TERMS_CHANGED] * 3)
    assert box.buys == 3


async def test_expiry_waits_for_a_renewal_in_flight(db: Database, settings: Settings) -> None:
    upstream, tracker, order, price = await _rental(db, settings)
    upstream.renew_delay = 0.5
    renewing = asyncio.create_task(tracker.actions.renew(order.id, USER, 7, "n1", price))
    await asyncio.sleep(0.2)
    assert await tracker.expire_due(now=order.expires_at + timedelta(seconds=1)) == []
    assert (await renewing).outcome is Outcome.RENEWED
    renewed = await tracker.orders.get(order.id)
    assert renewed.status is OrderStatus.ACTIVE and renewed.rent_days == 14
    assert ("renewal", Spent.SOLD, None) in await _outcomes(db, order.id)


async def test_two_renewals_at_once_both_add_their_days(db: Database, settings: Settings) -> None:
    upstream, tracker, order, price = await _rental(db, settings)
    upstream.says_expiry = False  # the bot adds the days itself
    upstream.renew_delay = 0.1
    results = await asyncio.gather(*(tracker.actions.renew(order.id, USER, 7, f"n{n}", price) for n in range(2)))
    assert [r.outcome for r in results] == [Outcome.RENEWED, Outcome.RENEWED]
    renewed = await tracker.orders.get(order.id)
    assert renewed.rent_days == 21 and renewed.expires_at == order.expires_at + timedelta(days=14)


async def test_a_number_the_upstream_withdraws_is_refunded_whatever_the_terms(db: Database, settings: Settings) -> None:
    box = Scripted("box", can_cancel=False)
    tracker = await _world(db, settings, box)
    rental = (await _place(tracker, "r", days=7)).order
    assert not rental.refundable
    box.statuses.append(Status(UpstreamState.CANCELLED))
    await tracker.poll_all()
    assert (await tracker.orders.get(rental.id)).status is OrderStatus.CANCELLED
    assert await _balance(db) == START
    assert await _outcomes(db, rental.id) == [("number", Spent.UPSTREAM_REFUNDED, None)]
