"""Rentals: renew charges the confirmed price at most, once per tap, and gives it back on any failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.money.billing import Billing
from bot.money.pricing import Pricing
from bot.orders.actions import OrderActions
from bot.orders.outcomes import Outcome
from bot.orders.placing import OrderService
from bot.settings import Settings
from providers.base import Offer, Purchase
from providers.catalog import Catalog
from providers.errors import Unavailable
from storage import ledger
from storage.db import Database
from tests.conftest import add_user
from tests.fakes.idle_upstream import IdleUpstream
from tests.order_services import order_service

pytestmark = pytest.mark.postgres

USER = 77


class RentalUpstream(IdleUpstream):
    name = "rent"
    can_renew = True
    supports_another_code = True

    def __init__(self) -> None:
        self.day_cost = 10
        self.fail_renew = False
        self.renewed: list[tuple[str, int]] = []

    async def offers(self, country: str | None = None) -> list[Offer]:
        return [Offer(self.name, "whatsapp", "US", self.day_cost * d, "USD", 5, rent_days=d) for d in (7, 30)]

    async def buy(self, offer: Offer) -> Purchase:
        return Purchase("r1", "+15550001", datetime.now(UTC) + timedelta(days=offer.rent_days or 1))

    async def renew(self, upstream_id: str, days: int) -> datetime | None:
        if self.fail_renew:
            raise Unavailable("down", provider=self.name)
        self.renewed.append((upstream_id, days))
        return None


@pytest.fixture
def world(db: Database, settings: Settings) -> tuple[OrderService, OrderActions, Billing, RentalUpstream]:
    upstream = RentalUpstream()
    orders = order_service(db, Catalog([upstream]), Pricing(settings), timedelta(minutes=20))
    return orders, OrderActions(orders), Billing(db, "USD"), upstream


async def rented(world, days: int = 7):
    orders, _, _, _ = world
    result = await orders.place(
        user_id=USER,
        chat_id=USER,
        request_key=f"{USER}:r",
        country="US",
        service="whatsapp",
        confirmed=10_000,
        rent_days=days,
    )
    assert result.outcome is Outcome.PLACED and result.order.rent_days == days
    return result.order


async def test_rental_is_quoted_apart_and_sold_for_its_days(db: Database, world) -> None:
    await add_user(db, USER, 10_000)
    order = await rented(world)
    assert order.price == 91  # 7 days x 10 cents + 30 %
    assert order.expires_at > datetime.now(UTC) + timedelta(days=6)


async def test_renew_charges_once_per_tap_and_extends(db: Database, world) -> None:
    _orders, actions, billing, upstream = world
    await add_user(db, USER, 10_000)
    order = await rented(world)
    before = await billing.balance(USER)
    first = await actions.renew(order.id, USER, 7, "n1", shown_price=91)
    again = await actions.renew(order.id, USER, 7, "n1", shown_price=91)
    assert first.outcome is Outcome.RENEWED and again.outcome is Outcome.DUPLICATE
    assert upstream.renewed == [("r1", 7)]
    assert await billing.balance(USER) == before - 91
    assert first.order.expires_at >= order.expires_at + timedelta(days=7) - timedelta(seconds=1)
    assert first.order.rent_days == 14


async def test_renew_never_charges_more_than_shown(db: Database, world) -> None:
    orders, actions, billing, upstream = world
    await add_user(db, USER, 10_000)
    order = await rented(world)
    upstream.day_cost = 20  # the price rose after the confirmation screen
    await orders.catalog.refresh("rent")
    balance = await billing.balance(USER)
    assert (await actions.renew(order.id, USER, 7, "n", shown_price=91)).outcome is Outcome.PRICE_CHANGED
    assert await billing.balance(USER) == balance and upstream.renewed == []


async def test_failed_renew_is_refunded_exactly_once(db: Database, world) -> None:
    _, actions, billing, upstream = world
    await add_user(db, USER, 10_000)
    order = await rented(world)
    balance = await billing.balance(USER)
    upstream.fail_renew = True
    assert (await actions.renew(order.id, USER, 7, "n", shown_price=91)).outcome is Outcome.UNAVAILABLE
    assert await billing.balance(USER) == balance
    assert not await actions.refund_renewal(f"order:{order.id}:renew:n")  # already settled: no second refund
    assert await billing.reconcile() == []


async def test_renew_racing_a_close_gives_the_money_back(db: Database, world) -> None:
    orders, actions, billing, upstream = world
    await add_user(db, USER, 10_000)
    order = await rented(world)
    balance = await billing.balance(USER)

    async def renew_then_closed(upstream_id: str, days: int) -> None:
        await orders.close_with_refund(order.id, orders_status.CANCELLED, (orders_status.ACTIVE,))
        return None

    from storage.orders import OrderStatus as orders_status

    upstream.renew = renew_then_closed  # type: ignore[method-assign]
    result = await actions.renew(order.id, USER, 7, "n", shown_price=91)
    assert result.outcome is Outcome.CLOSED
    assert await billing.balance(USER) == balance + order.price  # the order's refund and the renewal's
    async with db.read() as conn:
        assert await ledger.exists(conn, f"order:{order.id}:renew:n:refund")


async def test_an_expired_rental_cannot_be_renewed(db: Database, world) -> None:
    _, actions, billing, upstream = world
    await add_user(db, USER, 10_000)
    order = await rented(world)
    async with db.transaction() as conn:
        await conn.execute("UPDATE orders SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE id = ?", (order.id,))
    balance = await billing.balance(USER)
    assert (await actions.renew(order.id, USER, 7, "n", shown_price=91)).outcome is Outcome.CLOSED
    assert await billing.balance(USER) == balance and upstream.renewed == []
