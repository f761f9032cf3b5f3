"""Order service with the demo upstream: charge once, refund once, codes recorded, expiry refunds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.money.billing import Billing
from bot.orders.actions import OrderActions
from bot.orders.outcomes import Outcome
from bot.orders.placing import OrderService
from bot.orders.tracking import Tracker
from providers.base import Status, UpstreamState
from providers.demo import DemoProvider
from storage import ledger
from storage import orders as order_rows
from storage.db import Database
from storage.orders import Order, OrderStatus
from tests.conftest import add_user
from tests.order_services import order_service

pytestmark = pytest.mark.postgres

Services = tuple[OrderService, Tracker, Billing]


async def _place(orders: OrderService, user_id: int, key: str, confirmed: int = 10_000) -> object:
    return await orders.place(
        user_id=user_id, chat_id=user_id, request_key=key, country="US", service="whatsapp", confirmed=confirmed
    )


async def _charged_order(db: Database, user_id: int, provider: str, status: OrderStatus = OrderStatus.PENDING) -> Order:
    """An order ``user_id`` was charged 0.59 for, left in ``status`` with no number: its purchase never
    finished (the process died, or the upstream's answer was lost)."""
    async with db.transaction() as conn:
        order = await order_rows.create(
            conn,
            user_id=user_id,
            request_key=f"{user_id}:a",
            provider=provider,
            country="US",
            service="whatsapp",
            price=59,
            chat_id=user_id,
            expires_at=datetime.now(UTC) + timedelta(minutes=20),
        )
        await ledger.post(conn, user_id=user_id, amount=-59, kind="purchase", reference=f"order:{order.id}:charge")
        if status is not OrderStatus.PENDING:
            await order_rows.update(conn, order.id, expect=(OrderStatus.PENDING,), status=status)
    return order


async def test_quote_applies_markup_rounded_up(services: Services) -> None:
    orders, _, _ = services
    quote = await orders.quote("US", "whatsapp")
    assert quote is not None
    assert quote.price == 59  # demo cost 45 cents + 30 % = 58.5 -> 59


async def test_place_charges_once_and_second_tap_is_duplicate(db: Database, services: Services) -> None:
    orders, _, billing = services
    await add_user(db, 20, balance=500)
    first = await _place(orders, 20, "20:nonce")
    second = await _place(orders, 20, "20:nonce")
    assert first.outcome is Outcome.PLACED and first.order.status is OrderStatus.ACTIVE
    assert second.outcome is Outcome.DUPLICATE and second.order.id == first.order.id
    assert await billing.balance(20) == 500 - 59


async def test_concurrent_taps_on_one_confirm_place_one_order(db: Database, services: Services) -> None:
    orders, _, billing = services
    await add_user(db, 21, balance=500)
    results = await asyncio.gather(*(_place(orders, 21, "21:same") for _ in range(5)))
    assert len({r.order.id for r in results}) == 1
    assert await billing.balance(21) == 500 - 59


async def test_insufficient_balance_places_nothing(db: Database, services: Services) -> None:
    orders, _, billing = services
    await add_user(db, 22, balance=58)
    result = await _place(orders, 22, "22:a")
    assert result.outcome is Outcome.INSUFFICIENT and result.order is None
    assert await billing.balance(22) == 58


async def test_price_rise_asks_again(db: Database, services: Services) -> None:
    orders, _, billing = services
    await add_user(db, 23, balance=500)
    result = await _place(orders, 23, "23:a", confirmed=50)
    assert result.outcome is Outcome.PRICE_CHANGED and result.quote.price == 59
    assert await billing.balance(23) == 500


async def test_cancel_refunds_once(db: Database, services: Services) -> None:
    orders, tracker, billing = services
    await add_user(db, 24, balance=500)
    placed = await _place(orders, 24, "24:a")
    cancelled = await tracker.actions.cancel(placed.order.id, 24)
    again = await tracker.actions.cancel(placed.order.id, 24)
    assert cancelled.outcome is Outcome.CANCELLED
    assert again.outcome is Outcome.CLOSED
    assert await billing.balance(24) == 500
    assert await billing.reconcile() == []


async def test_another_users_order_is_not_found(db: Database, services: Services) -> None:
    orders, tracker, _ = services
    await add_user(db, 25, balance=500)
    await add_user(db, 26)
    placed = await _place(orders, 25, "25:a")
    assert (await tracker.actions.cancel(placed.order.id, 26)).outcome is Outcome.NOT_FOUND
    assert await orders.get(placed.order.id, 26) is None


async def test_code_arrives_then_cancel_is_refused_and_no_refund(db: Database, services: Services) -> None:
    orders, tracker, billing = services
    await add_user(db, 27, balance=500)
    placed = await _place(orders, 27, "27:a")
    changed = await tracker.poll_all()
    assert [o.status for o in changed] == [OrderStatus.CODE_RECEIVED]
    sms = await orders.sms(placed.order.id)
    assert len(sms) == 1 and sms[0].code and sms[0].code in sms[0].text
    assert (await tracker.actions.cancel(placed.order.id, 27)).outcome is Outcome.HAS_CODE
    assert await tracker.poll_all() == []  # the same SMS is not recorded twice
    assert await billing.balance(27) == 500 - 59


async def test_expiry_without_code_refunds(db: Database, settings: object) -> None:
    from bot.money.pricing import Pricing
    from providers.catalog import Catalog

    slow = DemoProvider(sms_delay_seconds=3600)
    orders = order_service(db, Catalog([slow]), Pricing(settings), timedelta(minutes=20))  # type: ignore[arg-type]
    tracker = Tracker(orders, OrderActions(orders), 4)
    billing = Billing(db, "USD")
    await add_user(db, 28, balance=500)
    placed = await _place(orders, 28, "28:a")
    assert await tracker.expire_due() == []  # not due yet
    expired = await tracker.expire_due(now=datetime.now(UTC) + timedelta(minutes=21))
    assert [o.status for o in expired] == [OrderStatus.EXPIRED]
    assert await tracker.expire_due(now=datetime.now(UTC) + timedelta(minutes=22)) == []
    assert await billing.balance(28) == 500
    assert (await orders.get(placed.order.id)).status is OrderStatus.EXPIRED


async def test_upstream_cancelled_without_code_refunds(db: Database, services: Services) -> None:
    orders, tracker, billing = services
    await add_user(db, 29, balance=500)
    placed = await _place(orders, 29, "29:a")
    changed = await tracker.record(placed.order, Status(UpstreamState.CANCELLED))
    assert changed is not None and changed.status is OrderStatus.CANCELLED
    assert await billing.balance(29) == 500


async def test_pending_order_left_by_a_crash_is_refunded(db: Database, services: Services) -> None:
    _orders, tracker, billing = services
    await add_user(db, 30, balance=500)
    await _charged_order(db, 30, "demo")  # the charge committed, then the process died
    assert await tracker.resolve_unclear() == []  # still within the grace period
    resolved = await tracker.resolve_unclear(now=datetime.now(UTC) + timedelta(minutes=3))
    assert [o.status for o in resolved] == [OrderStatus.FAILED]
    assert await billing.balance(30) == 500


async def test_lookup_never_hands_one_orders_number_to_another(db: Database, settings: object) -> None:
    """An unclear purchase found by lookup must not take a number another order already holds."""
    from bot.money.pricing import Pricing
    from providers.base import Purchase
    from providers.catalog import Catalog

    class Finder(DemoProvider):
        name = "finder"
        can_lookup = True
        found: Purchase | None = None

        async def lookup(self, offer, since):
            return self.found

    finder = Finder(sms_delay_seconds=3600)
    orders = order_service(db, Catalog([finder]), Pricing(settings), timedelta(minutes=20))  # type: ignore[arg-type]
    tracker = Tracker(orders, OrderActions(orders), 4)
    billing = Billing(db, "USD")
    await add_user(db, 31, balance=500)
    await add_user(db, 32, balance=500)
    first = await _place(orders, 31, "31:a")
    lost = await _charged_order(db, 32, "finder", OrderStatus.UNKNOWN)  # user 32's purchase answer was lost
    finder.found = Purchase(first.order.upstream_id, first.order.phone)  # the newest match is user 31's number
    resolved = await tracker.resolve_unclear()
    assert [(o.id, o.status) for o in resolved] == [(lost.id, OrderStatus.FAILED)]
    assert await billing.balance(32) == 500
    assert (await orders.get(first.order.id)).status is OrderStatus.ACTIVE
