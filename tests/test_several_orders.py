"""Several numbers from one Confirm: each an ordinary order with its own charge and card message, within the
per-user limits (stopping at the first refusal), and a second tap of the same Confirm places none twice.
And /orders' history: pages of the whole history, the newest first, or the open orders only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.money.billing import Billing
from bot.money.pricing import Pricing
from bot.orders.actions import OrderActions
from bot.orders.outcomes import Outcome, Result
from bot.orders.placing import HISTORY_PAGE, Limits, OrderService
from bot.settings import Settings
from providers.catalog import Catalog
from providers.demo import DemoProvider
from storage.db import Database
from storage.orders import OrderStatus
from tests.conftest import add_user
from tests.order_services import order_service

pytestmark = pytest.mark.postgres

PRICE = 59  # WhatsApp in the US from the demo at 30 % markup


def _orders(db: Database, settings: Settings, demo: DemoProvider, **limits: int) -> OrderService:
    return order_service(db, Catalog([demo]), Pricing(settings), timedelta(minutes=20), limits=Limits(**limits))


async def _several(orders: OrderService, user_id: int, qty: int, nonce: str = "n") -> tuple[list[Result], list[int]]:
    """Place ``qty``; the results, and the indexes the card messages were asked for."""
    asked: list[int] = []

    async def card_message(i: int) -> int:
        asked.append(i)
        return 1000 + i

    results = [
        result
        async for result in orders.place_several(
            qty=qty,
            user_id=user_id,
            chat_id=user_id,
            request_key=f"{user_id}:{nonce}",
            country="US",
            service="whatsapp",
            confirmed=PRICE,
            card_message=card_message,
        )
    ]
    return results, asked


async def _charges(db: Database, user_id: int) -> list[str]:
    async with db.read() as conn:
        rows = await conn.execute_fetchall(
            "SELECT reference FROM ledger WHERE user_id = ? AND kind = 'purchase' ORDER BY id", (user_id,)
        )
    return [row[0] for row in rows]


async def test_three_numbers_three_orders_three_charges(db: Database, settings: Settings, demo: DemoProvider) -> None:
    orders = _orders(db, settings, demo)
    await add_user(db, 40, balance=500)
    results, asked = await _several(orders, 40, 3)
    assert [r.outcome for r in results] == [Outcome.PLACED] * 3
    placed = [r.order for r in results if r.order]
    assert len({o.id for o in placed}) == 3 and all(o.status is OrderStatus.ACTIVE for o in placed)
    assert [o.card_message_id for o in placed] == [1000, 1001, 1002]  # each on its own card
    assert asked == [0, 1, 2]
    assert await _charges(db, 40) == [f"order:{o.id}:charge" for o in placed]
    assert await Billing(db, "USD").balance(40) == 500 - 3 * PRICE


async def test_a_second_tap_places_nothing_twice(db: Database, settings: Settings, demo: DemoProvider) -> None:
    orders = _orders(db, settings, demo)
    await add_user(db, 41, balance=500)
    first, second = await asyncio.gather(_several(orders, 41, 3), _several(orders, 41, 3))
    outcomes = [r.outcome for r in first[0] + second[0]]
    assert outcomes.count(Outcome.PLACED) == 3 and Outcome.DUPLICATE in outcomes
    assert len(await _charges(db, 41)) == 3
    again, _ = await _several(orders, 41, 3)  # long after: the first result is a duplicate, and it stops there
    assert [r.outcome for r in again] == [Outcome.DUPLICATE]
    assert await Billing(db, "USD").balance(41) == 500 - 3 * PRICE


async def test_stops_at_the_open_orders_limit(db: Database, settings: Settings, demo: DemoProvider) -> None:
    orders = _orders(db, settings, demo, max_open=2)
    await add_user(db, 42, balance=500)
    results, asked = await _several(orders, 42, 5)
    assert [r.outcome for r in results] == [Outcome.PLACED, Outcome.PLACED, Outcome.TOO_MANY_OPEN]
    assert results[-1].limit == 2 and asked == [0, 1, 2]  # nothing tried after the refusal
    assert len(await _charges(db, 42)) == 2


async def test_stops_at_the_purchases_a_minute_limit(db: Database, settings: Settings, demo: DemoProvider) -> None:
    orders = _orders(db, settings, demo, per_minute=3)
    await add_user(db, 43, balance=500)
    results, _ = await _several(orders, 43, 5)
    assert [r.outcome for r in results][-1] is Outcome.TOO_FAST and len(results) == 4
    assert len(await _charges(db, 43)) == 3


async def test_stops_when_the_balance_runs_out(db: Database, settings: Settings, demo: DemoProvider) -> None:
    orders = _orders(db, settings, demo)
    await add_user(db, 44, balance=2 * PRICE + 10)
    results, _ = await _several(orders, 44, 4)
    assert [r.outcome for r in results] == [Outcome.PLACED, Outcome.PLACED, Outcome.INSUFFICIENT]
    assert await Billing(db, "USD").balance(44) == 10


async def _place(orders: OrderService, user_id: int, key: str) -> None:
    result = await orders.place(
        user_id=user_id, chat_id=user_id, request_key=key, country="ID", service="google", confirmed=10_000
    )
    assert result.outcome is Outcome.PLACED


async def test_history_pages_through_everything_and_filters_open(
    db: Database, settings: Settings, demo: DemoProvider
) -> None:
    orders = _orders(db, settings, demo, max_open=50, per_minute=50)
    actions = OrderActions(orders)
    await add_user(db, 35, balance=10_000)
    for i in range(HISTORY_PAGE + 3):
        await _place(orders, 35, f"35:{i}")
    placed = await orders.history(35, 0)
    assert (placed.page, placed.pages, len(placed.orders)) == (0, 2, HISTORY_PAGE)
    ids = [o.id for o in placed.orders]
    assert ids == sorted(ids, reverse=True)  # the newest first
    second = await orders.history(35, 1)
    assert len(second.orders) == 3 and max(o.id for o in second.orders) < min(ids)
    assert (await orders.history(35, 99)).page == 1  # past the end: the last page
    for order in second.orders:  # the three oldest are cancelled: no longer open
        cancelled = await actions.cancel(order.id, 35)
        assert cancelled.outcome is Outcome.CANCELLED
    open_only = await orders.history(35, 0, open_only=True)
    assert (open_only.pages, len(open_only.orders)) == (1, HISTORY_PAGE)
    assert all(o.status is OrderStatus.ACTIVE for o in open_only.orders)
    assert (await orders.history(36, 0)).orders == []
