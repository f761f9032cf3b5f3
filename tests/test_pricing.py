"""Pricing: currency conversion, markup, rounding up to a step, overrides, never below a known cost."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bot.money.billing import Billing
from bot.money.pricing import Pricing
from bot.orders.outcomes import Outcome
from bot.settings import Settings
from providers.base import Offer, Purchase
from providers.catalog import Catalog
from storage.db import Database
from tests.conftest import add_user
from tests.fakes.idle_upstream import IdleUpstream
from tests.order_services import order_service


def pricing(settings: Settings, **changes: object) -> Pricing:
    return Pricing(settings.model_copy(update=changes))


def offer(cost: int | None, currency: str = "USD", stock: int | None = 5, provider: str = "p", days=None) -> Offer:
    return Offer(provider, "whatsapp", "ID", cost, currency, stock, rent_days=days)


def test_markup_rounds_up_to_a_minor_unit(settings: Settings) -> None:
    assert pricing(settings).price(offer(45)) == 59  # 45 * 1.3 = 58.5


def test_idr_converts_through_usd_rates_and_rounds_up(settings: Settings) -> None:
    p = pricing(settings, usd_rates={"USD": Decimal(1), "IDR": Decimal("0.0000625")})
    # 8000 IDR = 0.50 USD = 50 cents; +30 % = 65
    assert p.convert(8000, "IDR") == 50
    assert p.price(offer(8000, "IDR")) == 65
    assert p.convert(8001, "IDR") == 51  # never rounds a cost down


def test_unknown_currency_is_not_priced(settings: Settings) -> None:
    assert pricing(settings).price(offer(100, "ZZZ")) is None


def test_price_rounds_up_to_the_configured_step(settings: Settings) -> None:
    p = pricing(settings, price_step="0.10")
    assert p.price(offer(45)) == 60  # 58.5 -> 60
    assert p.price(offer(100)) == 130


def test_unpriced_offer_sells_at_default_and_never_below_known_cost(settings: Settings) -> None:
    p = pricing(settings)
    assert p.price(offer(None)) == 50  # DEFAULT_PRICE 0.50
    p.note_cost(offer(None), 80, "USD")  # the upstream charged 0.80 last time
    assert p.price(offer(None)) == 104


def test_override_wins_but_never_below_cost(settings: Settings) -> None:
    p = pricing(settings)
    p.overrides[("whatsapp", "ID")] = 99
    assert p.price(offer(45)) == 99
    assert p.price(offer(None)) == 99
    p.overrides[("whatsapp", "ID")] = 10
    assert p.price(offer(45)) == 45  # the operator's price, floored at what it costs


def test_quote_takes_best_in_stock_offer_and_keeps_the_rest_in_order(settings: Settings) -> None:
    p = pricing(settings)
    quotes = p.quotes([offer(45, provider="a"), offer(30, provider="b", stock=0), offer(40, provider="c")])
    assert len(quotes) == 1
    assert quotes[0].price == 52 and [o.provider for o in quotes[0].offers] == ["c", "a"]
    assert quotes[0].stock == 10


def test_rentals_are_quoted_apart(settings: Settings) -> None:
    quotes = pricing(settings).quotes([offer(45), offer(45 * 7, days=7)])
    assert sorted((q.rent_days or 0, q.price) for q in quotes) == [(0, 59), (7, 410)]


@pytest.mark.parametrize("value", ["IDR=abc", "IDR=0", "IDR=-1"])
def test_bad_rates_fail_at_start(settings: Settings, value: str) -> None:
    with pytest.raises(ValueError):
        Settings(_env_file=None, bot_token="1:x", usd_rates=value)  # type: ignore[call-arg]


class Unpriced(IdleUpstream):
    """An upstream that publishes no price (like iSMScode) and charges nothing we are told of."""

    name = "unpriced"
    balance_currency = "IDR"

    async def offers(self, country: str | None = None) -> list[Offer]:
        return [Offer(self.name, "whatsapp", "ID", None, "IDR", 10)]

    async def buy(self, offer: Offer) -> Purchase:
        return Purchase("u-1", "+6280000000")


async def test_idr_sells_an_unpriced_offer_at_a_rupiah_price_not_1(db: Database) -> None:
    settings = Settings(_env_file=None, bot_token="1:x", currency="IDR")  # type: ignore[call-arg]
    orders = order_service(db, Catalog([Unpriced()]), Pricing(settings), timedelta(minutes=20))
    await add_user(db, 7, balance=20_000)  # 20,000 rupiah
    quote = await orders.quote("ID", "whatsapp")
    assert quote is not None and quote.price == 8052  # 0.50 USD at USD_RATES' IDR=0.0000621, rounded up
    result = await orders.place(user_id=7, chat_id=7, request_key="k", country="ID", service="whatsapp", confirmed=8052)
    assert result.outcome is Outcome.PLACED and result.order is not None and result.order.price == 8052
    assert await Billing(db, "IDR").balance(7) == 20_000 - 8052


def test_unset_default_price_in_idr_rounds_up_to_the_step() -> None:
    settings = Settings(_env_file=None, bot_token="1:x", currency="IDR", price_step="500")  # type: ignore[call-arg]
    assert Pricing(settings).price(offer(None, "IDR")) == 8500


def test_a_set_default_price_is_rounded_up_to_the_step_too(settings: Settings) -> None:
    p = pricing(settings, default_price="0.55", price_step="0.10")
    assert p.price(offer(None)) == 60  # every price is a multiple of PRICE_STEP
    assert p.price(offer(None, days=7)) == 420
