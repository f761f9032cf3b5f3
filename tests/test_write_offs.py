"""The operator's money: every number bought upstream ends sold, refunded by the upstream, or written off.

Real adapters over their fakes (see :mod:`tests.upstreams`): SimSmsBox has no cancel endpoint, the
sms-activate protocol cancels with a refund. Prices with a 0.01 step and 30 % markup: sms-activate at
0.20 USD sells at 0.26; SimSmsBox at 0.19 sells at 0.25, at 0.15 for 0.20.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.orders.outcomes import Outcome, Result
from bot.orders.refunds import Terms
from bot.settings import Settings
from storage import purchases
from storage.db import Database
from storage.orders import OrderStatus
from storage.purchases import Outcome as Spent
from storage.purchases import Purchase, WriteOff
from tests.conftest import add_user
from tests.upstreams import COUNTRY, SERVICE, World, build_world

pytestmark = pytest.mark.postgres

USER, START = 300, 10_000
MakeWorld = Callable[..., World]


@pytest.fixture
async def make_world(db: Database, settings: Settings) -> AsyncIterator[MakeWorld]:
    worlds: list[World] = []

    def make(**kwargs: object) -> World:
        world = build_world(db, settings, step="0.01", **kwargs)  # type: ignore[arg-type]
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        await world.close()


async def _purchases(world: World, order_id: int) -> list[Purchase]:
    async with world.db.read() as conn:
        return await purchases.of_order(conn, order_id)


async def _all_purchases(world: World) -> list[Purchase]:
    async with world.db.read() as conn:
        async with conn.execute("SELECT DISTINCT order_id FROM upstream_purchases ORDER BY order_id") as cur:
            ids = [r[0] for r in await cur.fetchall()]
        found: list[Purchase] = []
        for order_id in ids:
            found += await purchases.of_order(conn, order_id)
    return found


async def _buy(world: World, nonce: str, *, accept: bool = False, days: int | None = None) -> Result:
    """The user confirms the price quoted now (a rental of ``days``), accepting non-refundable terms or not."""
    quote = await world.orders.quote(COUNTRY, SERVICE, days)
    assert quote is not None
    return await world.place(USER, nonce, quote.price, days=days, accept=accept)


async def test_buy_cancel_loop_at_a_no_cancel_upstream_frees_at_most_the_daily_limit(
    db: Database, make_world: MakeWorld
) -> None:
    world = make_world(upstreams=("simsmsbox",), box_price="0.19", box_stock=50)
    await add_user(db, USER, START)
    limit = world.orders.policy.write_off_limit
    free = 0
    for n in range(8):
        quote = await world.orders.quote(COUNTRY, SERVICE)
        assert quote is not None
        terms = await world.orders.terms(quote, USER)
        if terms is Terms.OVER_LIMIT:  # never silently: a Confirm made for refundable terms is refused
            refused = await _buy(world, f"silent{n}")
            assert refused.outcome is Outcome.TERMS_CHANGED and refused.order is None
        result = await _buy(world, f"n{n}", accept=not terms.refundable)
        assert result.outcome is Outcome.PLACED
        cancel = await world.tracker.actions.cancel(result.order.id, USER)
        if cancel.outcome is Outcome.CANCELLED:
            free += 1
            assert terms is Terms.REFUNDABLE
            [bought] = await _purchases(world, result.order.id)
            assert (bought.outcome, bought.reason) == (Spent.WRITTEN_OFF, WriteOff.NO_CANCEL)
            assert bought.cost == 19 and bought.cost_currency == "USD"
        else:
            assert cancel.outcome is Outcome.NOT_REFUNDABLE and terms is Terms.OVER_LIMIT
            assert not result.order.refundable
    assert free == limit == 3
    assert await world.orders.policy.write_offs_today(USER) == limit
    assert world.buys("simsmsbox") == 8
    assert await world.balance(USER) == START - (8 - limit) * 25  # the rest the user kept and paid for
    await world.check_invariants()


async def test_a_no_cancel_rental_is_not_refundable_once_delivered(db: Database, make_world: MakeWorld) -> None:
    world = make_world(upstreams=("simsmsbox",), box_price="0.19", box_stock=50)
    await add_user(db, USER, START)
    quote = await world.orders.quote(COUNTRY, SERVICE, 7)
    assert quote is not None and await world.orders.terms(quote, USER) is Terms.RENTAL
    assert (await _buy(world, "silent", days=7)).outcome is Outcome.TERMS_CHANGED
    result = await _buy(world, "r", accept=True, days=7)
    assert result.outcome is Outcome.PLACED and not result.order.refundable
    assert world.tracker.actions.card_flags(result.order)["cancel"] is False
    assert (await world.tracker.actions.cancel(result.order.id, USER)).outcome is Outcome.NOT_REFUNDABLE
    await world.tracker.expire_due(now=datetime.now(UTC) + timedelta(days=8))
    ended = await world.orders.get(result.order.id)
    assert ended.status is OrderStatus.EXPIRED
    assert await world.balance(USER) == START - quote.price  # kept: the terms said so
    [bought] = await _purchases(world, result.order.id)
    assert bought.outcome is Spent.SOLD
    await world.check_invariants()


async def test_routing_prefers_a_refundable_offer_within_the_band(db: Database, make_world: MakeWorld) -> None:
    near = make_world(upstreams=("smsactivate", "simsmsbox"), sa_price="0.20", box_price="0.19")
    quote = await near.orders.quote(COUNTRY, SERVICE)
    assert quote is not None
    assert [o.provider for o in quote.offers] == ["smsactivate", "simsmsbox"] and quote.price == 26
    far = make_world(upstreams=("smsactivate", "simsmsbox"), sa_price="0.20", box_price="0.15")
    quote = await far.orders.quote(COUNTRY, SERVICE)
    assert quote is not None
    assert [o.provider for o in quote.offers] == ["simsmsbox", "smsactivate"] and quote.price == 20


async def test_failover_never_moves_a_refundable_order_onto_non_refundable_terms(
    db: Database, make_world: MakeWorld
) -> None:
    world = make_world(upstreams=("smsactivate", "simsmsbox"), sa_price="0.20", box_price="0.19")
    await add_user(db, USER, START)
    async with db.transaction() as conn:  # three numbers already left to the operator today
        for n in range(3):
            record = await purchases.record(
                conn, order_id=await _seed_order(conn, n), user_id=USER, provider="simsmsbox",
                upstream_id=f"old{n}", cost=19, cost_currency="USD",
            )  # fmt: skip
            assert record is not None
            await purchases.settle(conn, record.id, Spent.WRITTEN_OFF, WriteOff.NO_CANCEL)
    quote = await world.orders.quote(COUNTRY, SERVICE)
    assert quote is not None and await world.orders.terms(quote, USER) is Terms.REFUNDABLE
    world.sa.prices = {}  # the refundable offer sells out at the last moment
    world.sa.fail_next("NO_NUMBERS")
    result = await world.orders.place(
        user_id=USER, chat_id=USER, request_key="x", country=COUNTRY, service=SERVICE, confirmed=quote.price
    )
    assert result.outcome is Outcome.OUT_OF_STOCK and result.order.status is OrderStatus.FAILED
    assert world.buys("simsmsbox") == 0  # not bought: the user never saw non-refundable terms
    assert result.quote is not None and await world.orders.terms(result.quote, USER) is Terms.OVER_LIMIT
    assert await world.balance(USER) == START


async def _seed_order(conn: object, n: int) -> int:
    from storage import orders as q

    order = await q.create(
        conn,  # type: ignore[arg-type]
        user_id=USER, request_key=f"seed{n}", provider="simsmsbox", country=COUNTRY, service=SERVICE,
        price=25, chat_id=USER, expires_at=datetime.now(UTC),
    )  # fmt: skip
    return order.id
