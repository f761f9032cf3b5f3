"""SmsCartesimProvider against the in-memory fake built from the smscartesim document."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from providers import errors
from providers.base import Offer, UpstreamState
from providers.smscartesim.client import SmsCartesimProvider
from providers.smscartesim.parse import raise_for
from tests.adapter_fixtures import adapter_call, adapter_fixtures
from tests.fakes.smscartesim import FakeSmsCartesim, dumps

KEY = "sk_live_CARTE_SECRET_0123456789"
OFFER = Offer("smscartesim", "whatsapp", "US", 35, "USD", 12, product_id="wa|us")
#: the offer as bot/tracking rebuilds it from a stored order for lookup(): no cost, no currency
LOST = Offer("smscartesim", "whatsapp", "US", None, "", None, product_id="wa|us")


fake, provider = adapter_fixtures(FakeSmsCartesim, SmsCartesimProvider, KEY)


def ok(**fields: object) -> httpx.Response:
    return httpx.Response(200, text=dumps({"status": "success", **fields}))


@pytest.mark.parametrize("shape", ["list", "map"])
async def test_offers_both_shapes(provider: SmsCartesimProvider, fake: FakeSmsCartesim, shape: str) -> None:
    fake.services_shape = shape
    offers = {(o.service, o.country): o for o in await provider.offers()}
    assert set(offers) == {("whatsapp", "US"), ("telegram", "US"), ("whatsapp", "GB"), ("google", "GB")}
    assert offers["whatsapp", "US"].cost == 35 and offers["telegram", "US"].cost == 120
    assert offers["whatsapp", "GB"].stock == 0 and offers["google", "GB"].stock == 40
    assert offers["whatsapp", "GB"].product_id == "wa|uk"
    assert all(o.currency == "USD" and o.provider == "smscartesim" for o in offers.values())
    assert fake.requests[-1].headers["authorization"] == "***" and fake.requests[-1].params == {}


@pytest.mark.parametrize(("asked", "sent"), [("GB", "uk"), ("gb", "uk"), ("uk", "uk"), ("US", "us")])
async def test_offers_one_country(provider: SmsCartesimProvider, fake: FakeSmsCartesim, asked: str, sent: str) -> None:
    offers = await provider.offers(asked)
    assert fake.requests[-1].params == {"country": sent}
    assert offers and {o.product_id.split("|")[1] for o in offers if o.product_id} == {sent}


async def test_offers_filter_drops_other_countries_and_fills_missing(
    provider: SmsCartesimProvider, fake: FakeSmsCartesim
) -> None:
    items = [{"code": "wa", "price": Decimal("0.2"), "count": "7"}, {"code": "tg", "country": "us", "price": 1}]
    fake.respond_next(ok(data=items))  # the upstream filtered already and left the country out
    offers = await provider.offers("GB")
    assert [(o.service, o.country, o.cost, o.stock, o.product_id) for o in offers] == [
        ("whatsapp", "GB", 20, 7, "wa|uk")
    ]


async def test_offers_variants(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    nested = {"code": "tg", "name": "Telegram", "countries": [{"country": 16, "price": "0.99"}, "us"]}
    items = [
        nested,
        {"service": "wa", "country": "id", "price": 5000, "currency": "IDR", "available": True},
        {"service": "fb", "country": "us", "price": "free?", "available": False},
        {"name": "no code"},
        "junk",
    ]
    fake.respond_next(ok(data={"services": items}))
    offers = [(o.service, o.country, o.cost, o.currency, o.stock, o.product_id) for o in await provider.offers()]
    assert offers == [
        ("telegram", "GB", 99, "USD", None, "tg|16"),
        ("telegram", "US", None, "USD", None, "tg|us"),
        ("whatsapp", "ID", 5000, "IDR", None, "wa|id"),
        ("facebook", "US", None, "USD", 0, "fb|us"),
    ]


async def test_offers_other_shapes(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    fake.respond_next(ok(services={"uk": {"wa": Decimal("0.35")}, "us": [{"service": "go", "price": 2}]}))
    offers = [(o.service, o.country, o.cost, o.product_id) for o in await provider.offers()]
    assert offers == [("whatsapp", "GB", 35, "wa|uk"), ("google", "US", 200, "go|us")]  # a map, bare prices
    fake.respond_next(ok(services="none"))
    with pytest.raises(errors.BadResponse):
        await provider.offers()


async def test_buy_sends_upstream_tokens(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    gb = next(o for o in await provider.offers("GB") if o.service == "google")
    purchase = await provider.buy(gb)
    order = fake.orders[purchase.upstream_id]
    assert fake.requests[-1].method == "POST" and fake.requests[-1].path == "/orders"
    assert fake.requests[-1].json == {"service": "go", "country": "uk"}
    assert (purchase.phone, purchase.cost) == (order.phone, 15)
    assert purchase.expires_at == order.expires_at and purchase.expires_at.tzinfo is not None
    assert fake.balance == Decimal("49.85")


async def test_buy_price_is_decimal_not_float(provider: SmsCartesimProvider) -> None:
    assert (await provider.buy(OFFER)).cost == 35  # 0.35 as float would be refused by to_minor


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"order_id": 77, "phone_number": "+4470000", "expires_at": "2026-03-21T20:15:00", "price": "1.5"}},
        {"orderId": "77", "number": "+4470000", "expires_at": 1774124100, "cost": Decimal("1.50")},
        {"number": {"id": 77, "phoneNumber": 4470000, "expiresAt": "2026-03-21 20:15:00+00:00", "price": 1.5}},
    ],
)
async def test_buy_field_variants(provider: SmsCartesimProvider, fake: FakeSmsCartesim, body: dict) -> None:
    fake.respond_next(ok(**body))
    purchase = await provider.buy(OFFER)
    assert purchase.upstream_id == "77" and purchase.phone.lstrip("+") == "4470000"
    assert purchase.expires_at == datetime(2026, 3, 21, 20, 15, tzinfo=UTC)
    assert purchase.cost == 150  # a float in the test body is still written as a JSON number


@pytest.mark.parametrize(
    "answer",
    [ok(order={"id": "x"}), ok(order={"phone": "+1"}), ok(), httpx.Response(200, json=["+1202"])],
)
async def test_buy_unreadable_success_is_unclear(
    provider: SmsCartesimProvider, fake: FakeSmsCartesim, answer: httpx.Response
) -> None:
    fake.respond_next(answer)
    with pytest.raises(errors.UnclearResult):
        await provider.buy(OFFER)


async def test_buy_without_product_id_sends_nothing(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    with pytest.raises(errors.InvalidRequest) as info:
        await provider.buy(Offer("smscartesim", "whatsapp", "US", 35, "USD", None))
    assert info.value.code == "no_product_id" and fake.requests == []


async def test_check_none_one_several(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    purchase = await provider.buy(OFFER)
    status = await provider.check(purchase.upstream_id)
    assert status.state is UpstreamState.WAITING and status.sms == ()
    assert fake.requests[-1].path == "/sms" and fake.requests[-1].params == {"id": purchase.upstream_id}
    fake.add_sms(purchase.upstream_id, "Your WhatsApp code: 583-920", code="583920")
    status = await provider.check(purchase.upstream_id)
    assert status.state is UpstreamState.RECEIVED and [s.code for s in status.sms] == ["583920"]
    fake.add_sms(purchase.upstream_id, "Your WhatsApp code: 111222", sender="+14155550000")
    status = await provider.check(purchase.upstream_id)
    assert [s.text for s in status.sms] == ["Your WhatsApp code: 583-920", "Your WhatsApp code: 111222"]
    assert [s.code for s in status.sms] == ["583920", None]
    assert [s.sender for s in status.sms] == ["WhatsApp", "+14155550000"]
    assert all(s.received_at and s.received_at.tzinfo is UTC for s in status.sms)


@pytest.mark.parametrize(
    ("word", "with_sms", "expected"),
    [
        ("active", False, UpstreamState.WAITING),
        ("waiting", False, UpstreamState.WAITING),
        ("active", True, UpstreamState.RECEIVED),
        ("received", True, UpstreamState.RECEIVED),
        ("completed", True, UpstreamState.FINISHED),
        ("cancelled", False, UpstreamState.CANCELLED),
        ("expired", False, UpstreamState.EXPIRED),
        ("weird", True, UpstreamState.RECEIVED),
        (None, False, UpstreamState.WAITING),
    ],
)
async def test_check_status_words(
    provider: SmsCartesimProvider, fake: FakeSmsCartesim, word: str | None, with_sms: bool, expected: UpstreamState
) -> None:
    sms = [{"message": "code 4321", "sender": "Bank", "created_at": "2026-03-21T20:15:00Z"}] if with_sms else []
    fake.respond_next(ok(data={"status": word, "sms": sms}))
    status = await provider.check("1001")
    assert status.state is expected and len(status.sms) == int(with_sms)


async def test_check_other_shapes(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    fake.respond_next(httpx.Response(200, json={"status": "expired", "messages": []}))  # no envelope word
    assert (await provider.check("1")).state is UpstreamState.EXPIRED
    fake.respond_next(ok(data=[{"body": "G-123456 is your code", "from": "Google"}]))
    status = await provider.check("1")
    assert status.state is UpstreamState.RECEIVED and status.sms[0].text == "G-123456 is your code"
    fake.respond_next(ok(messages="none"))
    with pytest.raises(errors.BadResponse):
        await provider.check("1")


async def test_check_unknown_order(provider: SmsCartesimProvider) -> None:
    with pytest.raises(errors.OrderNotFound):
        await provider.check("999")


async def test_cancel_is_noop(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    purchase = await provider.buy(OFFER)
    count = len(fake.requests)
    assert await provider.cancel(purchase.upstream_id) is None
    assert len(fake.requests) == count and fake.orders[purchase.upstream_id].status == "active"


async def test_balance(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    balance = await provider.balance()
    assert (balance.amount, balance.currency) == (5000, "USD")
    assert fake.requests[-1].path == "/user/balance"
    fake.respond_next(ok(data={"amount": "125000", "currency": "idr"}))
    assert (await provider.balance()).amount == 125000
    fake.respond_next(ok(currency="USD"))
    with pytest.raises(errors.BadResponse):
        await provider.balance()


async def test_real_errors_from_fake_state(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    with pytest.raises(errors.OutOfStock):
        await provider.buy(Offer("smscartesim", "whatsapp", "GB", 50, "USD", 0, product_id="wa|uk"))
    with pytest.raises(errors.InvalidRequest):
        await provider.buy(Offer("smscartesim", "whatsapp", "FR", 50, "USD", 0, product_id="wa|fr"))
    fake.balance = Decimal("0.10")
    with pytest.raises(errors.ProviderBalanceLow):
        await provider.buy(OFFER)


# (HTTP status, code, message, call, expected): the assumed error answers, see the module docstring
ERROR_TABLE = [
    (401, None, "Unauthenticated.", "buy", errors.Unauthorized),
    (403, None, "Forbidden.", "check", errors.Unauthorized),
    (402, None, "Payment required.", "buy", errors.ProviderBalanceLow),
    (400, None, "Insufficient balance.", "buy", errors.ProviderBalanceLow),
    (200, None, "Your balance is too low", "buy", errors.ProviderBalanceLow),
    (404, None, "Nothing here.", "buy", errors.OutOfStock),
    (400, None, "No numbers available for wa/us", "buy", errors.OutOfStock),
    (200, None, "Service out of stock", "buy", errors.OutOfStock),
    (409, None, "Number not available right now", "offers", errors.OutOfStock),
    (404, None, "Order not found.", "check", errors.OrderNotFound),
    (404, None, "Number not available", "check", errors.OrderNotFound),
    (404, None, "Route not found.", "offers", errors.BadResponse),
    (422, None, "The service field is required.", "buy", errors.InvalidRequest),
    (400, None, "Bad request.", "check", errors.InvalidRequest),
    (429, None, "Too many requests.", "offers", errors.RateLimited),
    (500, None, "Server error.", "buy", errors.UnclearResult),  # paid: the number may exist
    (500, None, "Server error.", "check", errors.Unavailable),
    (503, None, "Insufficient upstream balance", "check", errors.Unavailable),
    (418, None, "teapot", "buy", errors.UnclearResult),  # paid and no known refusal
    (418, None, "teapot", "offers", errors.BadResponse),
    (200, None, "mystery", "check", errors.BadResponse),
    (200, "insufficient_balance", "x", "buy", errors.ProviderBalanceLow),
    (400, "out_of_stock", "x", "buy", errors.OutOfStock),
    (404, "order_not_found", "x", "buy", errors.OrderNotFound),
    (500, "invalid_service", "x", "buy", errors.UnclearResult),  # a paid 5xx whatever the body
    (500, "invalid_service", "x", "offers", errors.InvalidRequest),
    (503, "out_of_stock", "x", "buy", errors.UnclearResult),
    (200, "RATE_LIMITED", "x", "check", errors.RateLimited),
    (418, 1001, "x", "check", errors.BadResponse),
]


@pytest.mark.parametrize(("status", "code", "message", "call", "expected"), ERROR_TABLE)
async def test_error_table(
    provider: SmsCartesimProvider,
    fake: FakeSmsCartesim,
    status: int,
    code: str | int | None,
    message: str,
    call: str,
    expected: type,
) -> None:
    fake.fail_next(status, f"{message} (key {KEY})", code=code)  # an upstream echoing the key
    with pytest.raises(expected) as info:
        await _call(provider, call)
    assert type(info.value) is expected  # a refusal is not a subclass such as UnclearResult
    assert KEY not in str(info.value)
    read = not (call == "buy" and status >= 500)  # a paid 5xx is unclear before its body is read
    assert info.value.code == (str(code) if code is not None and read else None)


def test_raise_for_paths_and_success() -> None:
    raise_for(200, {"status": "success", "balance": 1}, path="/user/balance")
    raise_for(201, ["no", "envelope"], path="/orders")
    with pytest.raises(errors.OutOfStock):
        raise_for(404, {"status": "error"}, path="/orders")
    with pytest.raises(errors.OrderNotFound):
        raise_for(404, None, path="/sms")
    with pytest.raises(errors.Unauthorized):
        raise_for(401, ["not", "an", "object"])
    with pytest.raises(errors.BadResponse):
        raise_for(302, {"location": "/login"})
    with pytest.raises(errors.ProviderBalanceLow) as info:
        raise_for(400, {"status": "error", "error": "insufficient funds", "code": "E1"})
    assert str(info.value) == "[smscartesim] HTTP 400: insufficient funds (E1)"


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_error_on_lookup_is_unavailable_and_a_refusal_on_buy_unclear(
    provider: SmsCartesimProvider, fake: FakeSmsCartesim, status: int
) -> None:
    """Beyond the contract's 5xx cases (tests/test_adapter_contract.py): lookup is a read as well, and a
    refusal text in a 5xx to a purchase is not believed."""
    fake.html_next(status)
    with pytest.raises(errors.Unavailable) as info:
        await provider.lookup(LOST, datetime.now(UTC) - timedelta(minutes=1))
    assert type(info.value) is errors.Unavailable
    fake.fail_next(status, "No numbers available for this service.")  # JSON, and a refusal text at that
    with pytest.raises(errors.UnclearResult):
        await provider.buy(OFFER)
    assert fake.orders == {}


async def test_key_echoed_in_the_error_code_is_scrubbed(
    provider: SmsCartesimProvider, fake: FakeSmsCartesim, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    fake.fail_next(401, f"key {KEY} revoked", code=KEY)
    with pytest.raises(errors.Unauthorized) as info:
        await provider.check("1001")
    await provider.buy(OFFER)  # a success logs too
    assert KEY not in str(info.value) and KEY not in repr(info.value) and KEY not in str(info.value.code)
    assert KEY not in caplog.text


def _call(provider: SmsCartesimProvider, call: str) -> Awaitable[object]:
    return adapter_call(provider, call, OFFER, "1001")


# -- lookup: GET /sms without an id lists the active numbers ---------------------------------------------


class LoseAnswer(httpx.AsyncBaseTransport):
    """Serves the request at the fake, then loses the answer (a ReadTimeout after the upstream acted)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.lose = inner, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.lose:
            self.lose = False
            raise httpx.ReadTimeout("answer lost (fake)", request=request)
        return response


async def test_lookup_finds_the_purchase_whose_answer_was_lost(fake: FakeSmsCartesim) -> None:
    wire = LoseAnswer(fake)
    provider = SmsCartesimProvider(KEY, transport=wire)
    assert provider.can_lookup
    since = datetime.now(UTC) - timedelta(minutes=1)
    await provider.buy(Offer("smscartesim", "telegram", "US", 120, "USD", 3, product_id="tg|us"))  # another offer
    wire.lose = True
    with pytest.raises(errors.UnclearResult):
        await provider.buy(OFFER)
    (order,) = [o for o in fake.orders.values() if o.service == "wa"]  # bought upstream all the same

    found = await provider.lookup(LOST, since)

    assert found is not None
    assert (found.upstream_id, found.phone) == (order.id, order.phone)
    assert found.expires_at == order.expires_at and found.cost == 35
    assert (fake.requests[-1].method, fake.requests[-1].path, fake.requests[-1].params) == ("GET", "/sms", {})
    await provider.close()


async def test_lookup_none_when_nothing_matches(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    assert await provider.lookup(LOST, datetime.now(UTC) - timedelta(minutes=1)) is None  # nothing bought
    bought = await provider.buy(OFFER)
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert await provider.lookup(LOST, later) is None  # bought before ``since``
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert await provider.lookup(Offer("smscartesim", "whatsapp", "GB", None, "", None, "wa|uk"), since) is None
    assert await provider.lookup(Offer("smscartesim", "telegram", "US", None, "", None, "tg|us"), since) is None
    fake.orders[bought.upstream_id].status = "cancelled"  # no longer an active number
    assert await provider.lookup(LOST, since) is None


async def test_lookup_takes_the_earliest_since(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    first, second = await provider.buy(OFFER), await provider.buy(OFFER)
    now = datetime.now(UTC).replace(microsecond=0)
    fake.orders[first.upstream_id].created_at = now - timedelta(minutes=10)  # an older order's number
    fake.orders[second.upstream_id].created_at = now - timedelta(seconds=30)
    third = await provider.buy(OFFER)
    fake.orders[third.upstream_id].created_at = now + timedelta(seconds=30)  # bought after the lost one

    found = await provider.lookup(LOST, now - timedelta(minutes=1))

    assert found is not None and found.upstream_id == second.upstream_id


@pytest.mark.parametrize(
    "body",
    [
        {"numbers": [{"order_id": "77", "number": "+14470000", "service": "wa", "country": "us", "createdAt": 1}]},
        {"data": {"orders": [{"orderId": 77, "phone_number": "+14470000", "service": "whatsapp", "country": "US",
                              "purchased_at": "1970-01-01T00:00:01"}]}},
        {"data": [{"id": 77, "phone": "+14470000", "service_code": "wa", "country_code": "us",
                   "created_at": "1970-01-01T00:00:01Z", "status": "active"}]},
    ],
)  # fmt: skip
async def test_lookup_accepts_shape_variants(provider: SmsCartesimProvider, fake: FakeSmsCartesim, body: dict) -> None:
    fake.respond_next(ok(**body))
    found = await provider.lookup(LOST, datetime(1970, 1, 1, tzinfo=UTC))
    assert found is not None and (found.upstream_id, found.phone) == ("77", "+14470000")


@pytest.mark.parametrize(
    "item",
    [
        {"id": 77, "phone": "+1447", "service": "wa", "country": "us"},  # no purchase time: cannot say when
        {"id": 77, "phone": "+1447", "service": "wa", "created_at": "2030-01-01T00:00:00Z"},  # no country
        {"id": 77, "phone": "+1447", "country": "us", "created_at": "2030-01-01T00:00:00Z"},  # no service
        {"id": 77, "service": "wa", "country": "us", "created_at": "2030-01-01T00:00:00Z"},  # no phone
        {"id": 77, "phone": "+1447", "service": "wa", "country": "us", "created_at": "2030-01-01T00:00:00Z",
         "status": "expired"},
    ],
)  # fmt: skip
async def test_lookup_never_takes_an_item_it_cannot_place(
    provider: SmsCartesimProvider, fake: FakeSmsCartesim, item: dict
) -> None:
    fake.respond_next(ok(data=[item]))
    assert await provider.lookup(LOST, datetime(2029, 1, 1, tzinfo=UTC)) is None


#: answers to ``GET /sms`` without an id that hold no list of active numbers, and what they raise
NO_LIST = [
    (ok(message="no list here"), errors.BadResponse),
    (ok(data={"count": 3}), errors.BadResponse),
    (httpx.Response(200, json=[{"id": 1}]), errors.BadResponse),
    (httpx.Response(401, json={"status": "error", "message": "Unauthenticated."}), errors.Unauthorized),
    (httpx.Response(503, text="<html>down</html>"), errors.Unavailable),
]


@pytest.mark.parametrize(("answer", "expected"), NO_LIST)
async def test_lookup_raises_when_the_upstream_cannot_answer(
    provider: SmsCartesimProvider, fake: FakeSmsCartesim, answer: httpx.Response, expected: type
) -> None:
    fake.respond_next(answer)
    with pytest.raises(expected):
        await provider.lookup(LOST, datetime.now(UTC))


async def test_lookup_needs_the_product_id(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    with pytest.raises(errors.InvalidRequest):
        await provider.lookup(Offer("smscartesim", "whatsapp", "US", None, "", None), datetime.now(UTC))
    assert fake.requests == []


# -- active(): the same list, with each number's SMS -----------------------------------------------------
async def test_active_reads_every_listed_number_as_check_does(
    provider: SmsCartesimProvider, fake: FakeSmsCartesim
) -> None:
    waiting, received, ended = [(await provider.buy(OFFER)).upstream_id for _ in range(3)]
    fake.add_sms(received, "Your WhatsApp code: 583-920", code="583920")
    fake.add_sms(received, "Your WhatsApp code: 111222", sender="+14155550000")
    fake.orders[ended].status = "completed"  # no longer active: not listed, left to check()
    count = len(fake.requests)
    listed = await provider.active()
    assert provider.can_list_active
    assert [(r.method, r.path, r.params) for r in fake.requests[count:]] == [("GET", "/sms", {})]
    assert set(listed) == {waiting, received}
    for upstream_id, status in listed.items():  # the same SMS either way: same text, same received_at
        assert status == await provider.check(upstream_id)
    assert listed[waiting].state is UpstreamState.WAITING and listed[waiting].sms == ()
    assert [s.code for s in listed[received].sms] == ["583920", None]
    assert all(s.received_at is not None for s in listed[received].sms)


@pytest.mark.parametrize("answer", [ok(data=[]), ok(data={"numbers": []}), ok(active=[])])
async def test_active_with_nothing_open_is_empty(
    provider: SmsCartesimProvider, fake: FakeSmsCartesim, answer: httpx.Response
) -> None:
    assert await provider.active() == {}  # the fake with nothing sold
    fake.respond_next(answer)
    assert await provider.active() == {}


async def test_active_leaves_out_numbers_whose_sms_it_cannot_tell(
    provider: SmsCartesimProvider, fake: FakeSmsCartesim
) -> None:
    sms = [{"text": "G-123456 is your code", "from": "Google", "created_at": "2026-03-21T20:15:00Z"}]
    items = [
        {"id": 1, "status": "received", "sms": sms},
        {"order_id": "2", "state": "active", "messages": []},
        {"id": 3, "status": "received"},  # no SMS list: its code may be there, unknown here
        {"phone": "+1447", "messages": []},  # no id
    ]
    fake.respond_next(ok(data=items))
    listed = await provider.active()
    assert set(listed) == {"1", "2"}
    assert listed["1"].state is UpstreamState.RECEIVED and listed["1"].sms[0].text == "G-123456 is your code"
    assert listed["1"].sms[0].received_at == datetime(2026, 3, 21, 20, 15, tzinfo=UTC)
    assert listed["2"].state is UpstreamState.WAITING


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        *NO_LIST,
        (httpx.Response(200, text="<html>maintenance</html>"), errors.BadResponse),
        (httpx.Response(200, text='{"status": "success", "data": ['), errors.BadResponse),  # cut off
        (httpx.Response(200, json={"status": "error", "message": f"key {KEY} suspended"}), errors.BadResponse),
        (httpx.Response(429, json={"status": "error", "message": "slow"}), errors.RateLimited),
    ],
)
async def test_active_failures_keep_the_usual_mapping(
    provider: SmsCartesimProvider,
    fake: FakeSmsCartesim,
    caplog: pytest.LogCaptureFixture,
    answer: httpx.Response,
    expected: type,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.respond_next(answer)
    with pytest.raises(expected) as info:
        await provider.active()
    assert type(info.value) is expected
    assert KEY not in str(info.value) and KEY not in caplog.text
