"""Routing over several real upstreams at once, each a real adapter over its fake behind a GuardedProvider.

The real OrderService, Tracker, Catalog and Pricing run on top (see :mod:`tests.upstreams`). All fakes
sell whatsapp in the US; the test configures their prices and stock so the order of prices is known.
Pricing: USD, 30 % markup, IDR at 0.0000621 USD, unpriced offers (iSMScode) at 0.50, step 0.10 unless
a test says otherwise. With a 0.10 step, sms-activate at 0.20 USD and SMSCode at 3500 IDR both sell at
0.30: the only way a second offer fits within the price the user confirmed is a tie on that price.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.money.pricing import Quote
from bot.orders.outcomes import Outcome, Result
from bot.settings import Settings
from providers.guard import BreakerState
from storage.db import Database
from storage.orders import Order, OrderStatus
from tests.conftest import add_user
from tests.upstreams import COOLDOWN, COUNTRY, DEFAULT_PRICE, SA_US, SERVICE, World, build_world, expected_price

USER, START = 100, 1_000
THREE = ("smsactivate", "smscode", "ismscode")
MakeWorld = Callable[..., World]


@pytest.fixture
async def make_world(db: Database, settings: Settings) -> AsyncIterator[MakeWorld]:
    worlds: list[World] = []

    def make(**kwargs: object) -> World:
        world = build_world(db, settings, **kwargs)  # type: ignore[arg-type]
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        await world.close()


async def _quote(world: World) -> Quote:
    quote = await world.orders.quote(COUNTRY, SERVICE)
    assert quote is not None
    return quote


def _providers(quote: Quote) -> list[str]:
    return [offer.provider for offer in quote.offers]


async def _order_rows(world: World, user_id: int = USER) -> list[tuple[int, str, int]]:
    """``(order id, kind, amount)`` of the user's ledger rows that belong to an order."""
    return [(r["order_id"], r["kind"], r["amount"]) for r in await world.ledger_rows(user_id) if r["order_id"]]


async def _funded(
    db: Database, make_world: MakeWorld, upstreams: tuple[str, ...] = THREE, **prices: str
) -> tuple[World, Quote]:
    """A world of ``upstreams`` at ``prices``, the user holding START, and the quote the user sees."""
    world = make_world(upstreams=upstreams, **prices)
    await add_user(db, USER, START)
    return world, await _quote(world)


def _placed(result: Result, provider: str) -> Order:
    """The order a clear buy placed at ``provider``."""
    assert result.outcome is Outcome.PLACED and result.order is not None
    assert result.order.provider == provider
    return result.order


def _unknown(result: Result, provider: str) -> Order:
    """The order an unclear buy left: charged, UNKNOWN, at ``provider``."""
    assert result.outcome is Outcome.UNKNOWN and result.order is not None
    assert result.order.status is OrderStatus.UNKNOWN and result.order.provider == provider
    return result.order


async def _assert_charged(world: World, amount: int) -> None:
    """The user holds START less ``amount``, and the money invariants hold."""
    assert await world.balance(USER) == START - amount
    await world.check_invariants()


async def _assert_failed_with_one_refund(world: World, result: Result, price: int) -> None:
    """Nothing fitted within ``price``: the order failed after one sms-activate buy, charged and refunded once."""
    assert result.outcome is Outcome.OUT_OF_STOCK and result.order is not None
    assert result.order.status is OrderStatus.FAILED
    assert world.all_buys() == {"smsactivate": 1, "smscode": 0, "ismscode": 0}
    assert await world.balance(USER) == START
    assert await _order_rows(world) == [(result.order.id, "purchase", -price), (result.order.id, "refund", price)]


# -- 1. one price: the best in-stock offer ----------------------------------------------------------------


@pytest.mark.parametrize(("step", "literal"), [("0.01", 29), ("0.10", 30)])
async def test_user_sees_the_best_in_stock_price_across_upstreams(
    db: Database, make_world: MakeWorld, step: str, literal: int
) -> None:
    world = make_world(
        upstreams=("smsactivate", "smscode", "ismscode", "simsmsbox"),
        step=step,
        sa_price="0.25",
        sc_price="3500",
        box_price="1.50",
    )
    cents = world.step
    expected = {
        "smsactivate": expected_price("0.25", "USD", cents),
        "smscode": expected_price("3500", "IDR", cents),
        "ismscode": DEFAULT_PRICE,
        "simsmsbox": expected_price("1.50", "USD", cents),
    }
    sold_out = [expected_price("100", "IDR", cents), expected_price("0.01", "USD", cents)]  # stock 0 in the fakes
    assert len(set(expected.values())) == len(expected)  # no ties: the order of prices is known
    assert max(sold_out) < min(expected.values())  # a sold-out offer would win if it were counted

    quotes = [q for q in await world.orders.quotes(COUNTRY) if q.service == SERVICE and q.rent_days is None]
    assert len(quotes) == 1  # one price per (service, country), whatever the number of upstreams
    quote = quotes[0]
    assert quote.price == min(expected.values()) == literal  # SMSCode: 3500 IDR -> 0.22 USD, +30 % -> 0.29
    assert _providers(quote) == sorted(expected, key=expected.__getitem__)
    assert {o.provider: world.pricing.price(o) for o in quote.offers} == expected
    assert quote == await _quote(world)

    await add_user(db, USER, START)
    result = await world.place(USER, "a", quote.price)
    assert _placed(result, "smscode").price == quote.price
    assert world.all_buys() == {"smsactivate": 0, "smscode": 1, "ismscode": 0, "simsmsbox": 0}
    await _assert_charged(world, quote.price)


# -- 2. cheapest out of stock on buy: the next offer, without asking -----------------------------------------


async def test_out_of_stock_on_buy_moves_to_the_next_offer_within_the_confirmed_price(
    db: Database, make_world: MakeWorld
) -> None:
    world, quote = await _funded(db, make_world, sa_price="0.20", sc_price="3500")
    assert _providers(quote) == ["smsactivate", "smscode", "ismscode"]
    assert quote.price == expected_price("0.20", "USD", 10) == expected_price("3500", "IDR", 10) == 30
    world.sa.prices[SA_US]["wa"][1] = 0  # sold out upstream since the catalog was read: NO_NUMBERS

    result = await world.place(USER, "a", quote.price)

    order = _placed(result, "smscode")
    assert order.status is OrderStatus.ACTIVE
    assert order.upstream_id in world.sc.orders and order.phone == world.sc.orders[order.upstream_id].phone
    assert (order.cost, order.cost_currency, order.product_id) == (3500, "IDR", "42")
    assert world.all_buys() == {"smsactivate": 1, "smscode": 1, "ismscode": 0}
    assert [r.json for r in world.sc.requests if r.path == "/orders"] == [{"product_id": 42}]
    assert world.guards["smsactivate"].breaker.state is BreakerState.CLOSED  # a business answer, not a failure
    assert await _order_rows(world) == [(order.id, "purchase", -quote.price)]
    await _assert_charged(world, quote.price)


# -- 3. a 502 on buy: unclear, never bought again elsewhere; the breaker skips the upstream until the cool-down ---


async def test_html_502_on_buy_leaves_the_order_unknown_and_opens_the_breaker_until_the_cooldown(
    db: Database, make_world: MakeWorld
) -> None:
    world, quote = await _funded(db, make_world, sa_price="0.20", sc_price="3500")
    sa_guard = world.guards["smsactivate"]
    assert _providers(quote)[:2] == ["smsactivate", "smscode"] and quote.price == 30
    world.sa.html_next(502)  # the upstream may have sold the number before its gateway failed

    first = await world.place(USER, "a", quote.price)

    unknown = _unknown(first, "smsactivate")
    assert world.all_buys() == {"smsactivate": 1, "smscode": 0, "ismscode": 0}  # no second number elsewhere
    assert sa_guard.breaker.state is BreakerState.OPEN and not sa_guard.healthy
    assert "HTTP 502" in (sa_guard.last_error or "")

    sent = len(world.sa.requests)
    while_open = await _quote(world)
    assert "smsactivate" not in _providers(while_open)
    assert _providers(while_open) == ["smscode", "ismscode"] and while_open.price == 30
    second = await world.place(USER, "b", while_open.price)
    _placed(second, "smscode")
    assert len(world.sa.requests) == sent  # nothing at all was sent to the open upstream

    await asyncio.sleep(COOLDOWN + 0.05)
    assert sa_guard.breaker.state is BreakerState.HALF_OPEN
    after = await _quote(world)
    assert _providers(after)[0] == "smsactivate"
    third = await world.place(USER, "c", after.price)
    assert _placed(third, "smsactivate").upstream_id in world.sa.activations
    assert world.all_buys() == {"smsactivate": 2, "smscode": 1, "ismscode": 0}
    assert sa_guard.breaker.state is BreakerState.CLOSED and sa_guard.breaker.failures == 0

    assert await world.balance(USER) == START - 3 * 30  # the unknown order stays charged until resolved
    assert [kind for _, kind, _ in await _order_rows(world)] == ["purchase"] * 3
    later = datetime.now(UTC) + timedelta(minutes=3)  # sms-activate cannot look it up: refunded, never re-sent
    assert [(o.id, o.status) for o in await world.tracker.resolve_unclear(now=later)] == [
        (unknown.id, OrderStatus.FAILED)
    ]
    assert await world.balance(USER) == START - 2 * 30
    assert world.all_buys() == {"smsactivate": 2, "smscode": 1, "ismscode": 0}
    await world.check_invariants()


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_json_5xx_on_buy_never_buys_a_second_number_elsewhere(
    db: Database, make_world: MakeWorld, status: int
) -> None:
    """Issue #8: SMSCode answering ``500 {"success": false, "error": {"code": "INTERNAL"}}`` to create-order
    was read as "not sold" and the bot bought a second number at the next upstream."""
    world, quote = await _funded(
        db, make_world, upstreams=("smscode", "smsactivate", "ismscode"), sa_price="0.20", sc_price="3500"
    )
    assert _providers(quote)[:2] == ["smscode", "smsactivate"] and quote.price == 30  # a tie: both affordable
    world.sc.fail_next(status, "INTERNAL", message="internal error")

    result = await world.place(USER, "a", quote.price)

    _unknown(result, "smscode")
    assert world.all_buys() == {"smscode": 1, "smsactivate": 0, "ismscode": 0}
    await _assert_charged(world, quote.price)


# -- 4. a timeout on buy: unknown, never re-sent, resolved later -------------------------------------------------


async def test_timeout_on_buy_leaves_the_order_unknown_then_refunds_it_when_it_cannot_be_looked_up(
    db: Database, make_world: MakeWorld
) -> None:
    world, quote = await _funded(db, make_world, sa_price="0.20", sc_price="3500")
    assert _providers(quote)[0] == "smsactivate"
    world.sa.raise_next()  # httpx.ReadTimeout on the getNumber

    result = await world.place(USER, "a", quote.price)

    order = _unknown(result, "smsactivate")
    assert order.product_id == f"wa|{SA_US}" and order.upstream_id is None
    assert world.all_buys() == {"smsactivate": 1, "smscode": 0, "ismscode": 0}  # sent once, nobody else asked
    assert not world.guards["smsactivate"].can_lookup
    assert await world.balance(USER) == START - quote.price

    later = datetime.now(UTC) + timedelta(minutes=3)
    resolved = await world.tracker.resolve_unclear(now=later)
    assert [(o.id, o.status) for o in resolved] == [(order.id, OrderStatus.FAILED)]
    assert await world.tracker.resolve_unclear(now=later + timedelta(minutes=1)) == []
    assert (await world.orders.get(order.id)).status is OrderStatus.FAILED  # type: ignore[union-attr]
    assert await world.balance(USER) == START
    assert await _order_rows(world) == [(order.id, "purchase", -quote.price), (order.id, "refund", quote.price)]
    assert world.all_buys() == {"smsactivate": 1, "smscode": 0, "ismscode": 0}  # still never re-sent
    await world.check_invariants()


async def test_timeout_on_buy_at_an_upstream_that_created_the_order_is_found_by_lookup(
    db: Database, make_world: MakeWorld
) -> None:
    world, quote = await _funded(
        db, make_world, upstreams=("simsmsbox", "smscode", "ismscode"), box_price="0.10", sc_price="3500"
    )
    box_guard = world.guards["simsmsbox"]
    assert _providers(quote) == ["simsmsbox", "smscode", "ismscode"]
    assert quote.price == expected_price("0.10", "USD", 10) == 20
    world.box_wire.lose_next("POST", "/api/sms/orders/purchase")  # served upstream, the answer lost

    result = await world.place(USER, "a", quote.price)

    order = _unknown(result, "simsmsbox")
    assert world.all_buys() == {"simsmsbox": 1, "smscode": 0, "ismscode": 0}
    assert len(world.box.orders) == 1
    upstream = next(iter(world.box.orders.values()))

    # The unclear answer opened the breaker (failures=1): the lookup waits, nothing is refunded yet.
    assert box_guard.breaker.state is BreakerState.OPEN
    assert await world.tracker.resolve_unclear(now=datetime.now(UTC) + timedelta(minutes=3)) == []
    assert (await world.orders.get(order.id)).status is OrderStatus.UNKNOWN  # type: ignore[union-attr]

    await asyncio.sleep(COOLDOWN + 0.05)
    resolved = await world.tracker.resolve_unclear(now=datetime.now(UTC) + timedelta(minutes=4))
    assert [(o.id, o.status) for o in resolved] == [(order.id, OrderStatus.ACTIVE)]
    found = resolved[0]
    assert found.phone == upstream.phone
    assert found.upstream_id == str(upstream.id)  # the bare orderId: the binding key is never stored
    assert upstream.binding_key not in (found.upstream_id or "")
    assert world.all_buys() == {"simsmsbox": 1, "smscode": 0, "ismscode": 0}  # looked up, not bought again
    assert await world.balance(USER) == START - quote.price
    assert await _order_rows(world) == [(order.id, "purchase", -quote.price)]
    assert await world.tracker.resolve_unclear(now=datetime.now(UTC) + timedelta(minutes=20)) == []

    world.box.deliver_code(upstream.id, "482913")  # the number works: its code reaches the order
    changed = await world.tracker.poll_all()
    assert [(o.id, o.status) for o in changed] == [(order.id, OrderStatus.CODE_RECEIVED)]
    assert [s.code for s in await world.orders.sms(order.id)] == ["482913"]
    await world.check_invariants()


# -- 5. nothing left within the confirmed price: failed, one refund, a new higher quote ----------------------


async def test_no_offer_within_the_confirmed_price_refunds_once_and_quotes_the_higher_price(
    db: Database, make_world: MakeWorld
) -> None:
    world, quote = await _funded(db, make_world, sa_price="0.20", sc_price="4000")
    higher = expected_price("4000", "IDR", 10)  # 4000 IDR -> 0.25 USD, +30 % -> 0.40
    assert _providers(quote) == ["smsactivate", "smscode", "ismscode"]
    assert quote.price == 30 < higher == 40 < DEFAULT_PRICE
    world.sa.fail_next("BAD_KEY")  # a definite refusal that also opens the breaker (a 5xx would be unclear)

    result = await world.place(USER, "a", quote.price)

    await _assert_failed_with_one_refund(world, result, quote.price)  # nothing bought above 0.30
    assert result.quote is not None and result.quote.price == higher
    assert _providers(result.quote) == ["smscode", "ismscode"]

    again = await world.place(USER, "b", result.quote.price)  # the user confirms the new price
    assert _placed(again, "smscode").price == higher
    await _assert_charged(world, higher)


async def test_sold_out_cheapest_fails_with_one_refund_and_the_next_quote_is_higher(
    db: Database, make_world: MakeWorld
) -> None:
    world, quote = await _funded(db, make_world, sa_price="0.20", sc_price="4000")
    assert quote.price == 30 and _providers(quote)[0] == "smsactivate"
    world.sa.prices[SA_US]["wa"][1] = 0  # sold out upstream: getNumber says NO_NUMBERS, getPrices count 0

    result = await world.place(USER, "a", quote.price)

    await _assert_failed_with_one_refund(world, result, quote.price)
    await world.check_invariants()
    await world.catalog.refresh("smsactivate")  # what the refresh started behind the reader brings
    assert (await _quote(world)).price == expected_price("4000", "IDR", 10)


async def test_sold_out_cheapest_requote_carries_the_higher_price(db: Database, make_world: MakeWorld) -> None:
    world, quote = await _funded(db, make_world, sa_price="0.20", sc_price="4000")
    world.sa.prices[SA_US]["wa"][1] = 0  # sold out upstream: getNumber says NO_NUMBERS, getPrices count 0

    result = await world.place(USER, "a", quote.price)

    assert result.quote is not None
    assert result.quote.price == expected_price("4000", "IDR", 10)  # not the sold-out 0.30 again


# -- regressions: a re-quote after a sold-out buy, an unpriced offer sold below its price ------------------


async def test_unpriced_offer_never_sells_below_its_default_price(db: Database, make_world: MakeWorld) -> None:
    world, quote = await _funded(db, make_world, upstreams=("smsactivate", "ismscode"), sa_price="0.20")
    assert quote.price == 30 and _providers(quote) == ["smsactivate", "ismscode"]
    world.sa.prices[SA_US]["wa"][1] = 0  # sold out upstream
    # the user confirmed 0.50 on an earlier screen, when iSMScode was the only offer; the quote fell since

    result = await world.place(USER, "a", DEFAULT_PRICE)

    await world.check_invariants()  # charged 0.30 <= confirmed 0.50: the invariants hold either way
    assert result.order is not None
    assert result.order.provider != "ismscode" or result.order.price >= DEFAULT_PRICE
