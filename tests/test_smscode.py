"""SMSCodeProvider against the in-memory fake built from the SMSCode document."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from providers import errors
from providers.base import Offer, UpstreamState
from providers.smscode.client import SMSCodeProvider
from providers.smscode.parse import raise_for
from tests.adapter_fixtures import adapter_call, adapter_fixtures
from tests.fakes.smscode import FakeSMSCode

KEY = "smc_live_SECRET_0123456789"
OFFER = Offer("smscode", "whatsapp", "ID", 3500, "IDR", 5, product_id="42")


fake, provider = adapter_fixtures(FakeSMSCode, SMSCodeProvider, KEY)


def _ok(data: object) -> httpx.Response:
    return httpx.Response(200, json={"success": True, "data": data})


async def test_offers_whole_catalog(provider: SMSCodeProvider, fake: FakeSMSCode) -> None:
    offers = await provider.offers()
    assert [(o.service, o.country, o.cost, o.stock, o.product_id) for o in offers] == [
        ("whatsapp", "ID", 3500, 5, "42"),
        ("telegram", "ID", 4200, 0, "43"),
        ("google", "RU", 2800, 12, "57"),
    ]
    assert all(o.currency == "IDR" and o.provider == "smscode" for o in offers)
    assert fake.requests[-1].path == "/catalog/products" and fake.requests[-1].params == {}
    assert fake.requests[-1].headers["authorization"] == "***"


async def test_offers_one_country_sends_filter(provider: SMSCodeProvider, fake: FakeSMSCode) -> None:
    offers = await provider.offers("id")
    assert {o.product_id for o in offers} == {"42", "43"} and {o.country for o in offers} == {"ID"}
    assert fake.requests[-1].params == {"country": "indonesia"}
    # an upstream that ignores the filter still yields only the asked country
    fake.respond_next(_ok([{"id": 1, "country": "russia", "platform": "wa", "price": 10, "stock": 1}]))
    assert await provider.offers("ID") == []


async def test_offers_field_variants_and_skips(
    provider: SMSCodeProvider, fake: FakeSMSCode, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="providers.smscode.parse")
    text = (
        '{"success": true, "data": {"products": ['
        '{"product_id": "prd_tg", "country_name": "Indonesia", "service": "tg", "price": 1250.4, "available": 3},'
        '{"id": 7, "country": {"code": "PH", "name": "Philippines"}, "platform_name": "WhatsApp", "price": 0.35},'
        '{"id": 8, "price": 100, "stock": 1},'
        '{"id": 9, "country": "indonesia", "price": 100}]}}'
    )
    fake.respond_next(httpx.Response(200, text=text))
    offers = await provider.offers()
    assert [(o.product_id, o.service, o.country, o.cost, o.stock) for o in offers] == [
        ("prd_tg", "telegram", "ID", 1251, 3),  # whole rupiah, rounded up; parsed as Decimal, not float
        ("7", "whatsapp", "PH", 1, None),
    ]
    assert "product 8 names no country or platform" in caplog.text
    assert "product 9 names no country or platform" in caplog.text


async def test_buy_sends_catalog_id_and_debits(provider: SMSCodeProvider, fake: FakeSMSCode) -> None:
    purchase = await provider.buy(OFFER)
    assert fake.requests[-1].method == "POST" and fake.requests[-1].path == "/orders"
    assert fake.requests[-1].json == {"product_id": 42}  # an int, as the catalog gave it
    order = fake.orders[purchase.upstream_id]
    assert purchase.phone == order.phone and purchase.phone.startswith("+62")
    assert purchase.expires_at == order.expires_at and purchase.expires_at.tzinfo is not None
    assert purchase.cost is None
    assert fake.balance == Decimal("146500") and fake.products[0]["stock"] == 4


async def test_buy_string_product_id(provider: SMSCodeProvider, fake: FakeSMSCode) -> None:
    fake.products.append({"id": "prd_x", "country": "india", "platform": "tinder", "price": Decimal(9), "stock": 1})
    offer = next(o for o in await provider.offers() if o.product_id == "prd_x")
    await provider.buy(offer)
    assert fake.requests[-1].json == {"product_id": "prd_x"}
    with pytest.raises(errors.OutOfStock):  # stock went 1 -> 0
        await provider.buy(offer)


async def test_buy_accepts_field_variants(provider: SMSCodeProvider, fake: FakeSMSCode) -> None:
    text = '{"success": true, "data": {"id": 991, "phone": "+6285550000", "expires_at": "2026-03-14T12:05:00", '
    fake.respond_next(httpx.Response(200, text=text + '"price": 3500.2}}'))
    purchase = await provider.buy(OFFER)
    assert (purchase.upstream_id, purchase.phone, purchase.cost) == ("991", "+6285550000", 3501)
    assert purchase.expires_at == datetime(2026, 3, 14, 12, 5, tzinfo=UTC)
    fake.respond_next(_ok({"orderId": "ord_9", "number": 6281}))
    purchase = await provider.buy(OFFER)
    assert (purchase.upstream_id, purchase.phone, purchase.expires_at) == ("ord_9", "6281", None)


async def test_buy_without_product_id_sends_nothing(provider: SMSCodeProvider, fake: FakeSMSCode) -> None:
    with pytest.raises(errors.InvalidRequest):
        await provider.buy(Offer("smscode", "whatsapp", "ID", 1, "IDR", 1))
    assert fake.requests == []


async def test_check_waiting_then_code(provider: SMSCodeProvider, fake: FakeSMSCode) -> None:
    purchase = await provider.buy(OFFER)
    status = await provider.check(purchase.upstream_id)
    assert status.state is UpstreamState.WAITING and status.sms == ()
    assert fake.requests[-1].path == f"/orders/{purchase.upstream_id}"
    fake.deliver_otp(purchase.upstream_id, "847291")
    status = await provider.check(purchase.upstream_id)
    assert status.state is UpstreamState.RECEIVED
    assert [(s.text, s.code) for s in status.sms] == [("Code: 847291", "847291")]
    assert status.sms[0].received_at == fake.orders[purchase.upstream_id].received_at


async def test_follow_up_code_replaces_otp(provider: SMSCodeProvider, fake: FakeSMSCode) -> None:
    purchase = await provider.buy(OFFER)
    fake.deliver_otp(purchase.upstream_id, "111111", text="Your WhatsApp code is 111-111")
    first = await provider.check(purchase.upstream_id)
    fake.deliver_otp(purchase.upstream_id, "222222", text="Your WhatsApp code is 222-222")
    second = await provider.check(purchase.upstream_id)
    assert [(s.text, s.code) for s in first.sms] == [("Your WhatsApp code is 111-111", "111111")]
    assert [(s.text, s.code) for s in second.sms] == [("Your WhatsApp code is 222-222", "222222")]
    assert first.sms[0] != second.sms[0]
    assert provider.supports_another_code is True
    count = len(fake.requests)
    assert await provider.another_code(purchase.upstream_id) is None
    assert len(fake.requests) == count  # no endpoint invented for it


async def test_check_field_variants(provider: SMSCodeProvider, fake: FakeSMSCode) -> None:
    data = {"status": "otp_received", "otp": 5512, "message": "G-5512 is your code", "otp_received_at": "bad"}
    fake.respond_next(_ok(data))
    status = await provider.check("ord_x")
    assert [(s.text, s.code, s.received_at) for s in status.sms] == [("G-5512 is your code", "5512", None)]
    fake.respond_next(_ok({"status": "REFUNDING"}))
    assert (await provider.check("ord_x")).state is UpstreamState.WAITING
    fake.respond_next(_ok({"order_id": "ord_x"}))
    with pytest.raises(errors.BadResponse):
        await provider.check("ord_x")


async def test_completed_keeps_code_and_expired(provider: SMSCodeProvider, fake: FakeSMSCode) -> None:
    done, lapsed = await provider.buy(OFFER), await provider.buy(OFFER)
    fake.deliver_otp(done.upstream_id, "4242")
    fake.complete(done.upstream_id)
    fake.expire(lapsed.upstream_id)
    status = await provider.check(done.upstream_id)
    assert status.state is UpstreamState.FINISHED and [s.code for s in status.sms] == ["4242"]
    status = await provider.check(lapsed.upstream_id)
    assert status.state is UpstreamState.EXPIRED and status.sms == ()


async def test_cancel_refunds_only_before_code(provider: SMSCodeProvider, fake: FakeSMSCode) -> None:
    early, late = await provider.buy(OFFER), await provider.buy(OFFER)
    assert fake.balance == Decimal("143000")
    assert await provider.cancel(early.upstream_id) is None
    assert fake.requests[-1].method == "POST" and fake.requests[-1].path == f"/orders/{early.upstream_id}/cancel"
    assert fake.balance == Decimal("146500")
    fake.deliver_otp(late.upstream_id, "9090")
    await provider.cancel(late.upstream_id)
    assert fake.balance == Decimal("146500")  # no refund after the code
    status = await provider.check(late.upstream_id)
    assert status.state is UpstreamState.CANCELLED and [s.code for s in status.sms] == ["9090"]
    assert (await provider.check(early.upstream_id)).state is UpstreamState.CANCELLED
    with pytest.raises(errors.OrderNotFound):
        await provider.cancel("ord_missing")


async def test_balance_in_whole_rupiah(provider: SMSCodeProvider, fake: FakeSMSCode) -> None:
    balance = await provider.balance()
    assert (balance.amount, balance.currency) == (150000, "IDR")
    assert fake.requests[-1].path == "/balance"
    fake.balance = Decimal("99.5")
    assert (await provider.balance()).amount == 100
    fake.respond_next(_ok({"currency": "IDR"}))
    with pytest.raises(errors.BadResponse):
        await provider.balance()


async def test_real_errors_from_fake_state(provider: SMSCodeProvider, fake: FakeSMSCode) -> None:
    fake.balance = Decimal("100")
    with pytest.raises(errors.ProviderBalanceLow) as info:
        await provider.buy(OFFER)
    assert info.value.code == "INSUFFICIENT_BALANCE"
    with pytest.raises(errors.OutOfStock):
        await provider.buy(Offer("smscode", "telegram", "ID", 4200, "IDR", 0, product_id="43"))
    with pytest.raises(errors.OrderNotFound):
        await provider.check("ord_missing")


ERROR_TABLE = [
    (401, "UNAUTHORIZED", errors.Unauthorized),
    (402, "INSUFFICIENT_BALANCE", errors.ProviderBalanceLow),
    (409, "PRODUCT_UNAVAILABLE", errors.OutOfStock),
    (404, "ORDER_NOT_FOUND", errors.OrderNotFound),
    (400, "RATE_LIMITED", errors.RateLimited),
    (200, "PRODUCT_UNAVAILABLE", errors.OutOfStock),  # success:false inside a 200
    (200, "MYSTERY", errors.BadResponse),
    (400, "MYSTERY", errors.BadResponse),
    (404, "NOT_FOUND", errors.BadResponse),
    (403, "FORBIDDEN", errors.Unauthorized),
    (500, "INTERNAL", errors.Unavailable),
    (503, "MAINTENANCE", errors.Unavailable),
]
#: on the paid ``POST /orders`` only a known refusal is "not sold"; the rest may have bought a number
UNCLEAR_ON_BUY = {(200, "MYSTERY"), (400, "MYSTERY"), (404, "NOT_FOUND"), (500, "INTERNAL"), (503, "MAINTENANCE")}


@pytest.mark.parametrize(("status", "code", "expected"), ERROR_TABLE)
async def test_error_table_on_buy(
    provider: SMSCodeProvider, fake: FakeSMSCode, status: int, code: str, expected: type
) -> None:
    fake.fail_next(status, code, message=f"bad token {KEY}")  # an upstream echoing the key
    if (status, code) in UNCLEAR_ON_BUY:
        expected = errors.UnclearResult
    with pytest.raises(expected) as info:
        await provider.buy(OFFER)
    assert type(info.value) is expected  # a refusal is not a subclass such as UnclearResult
    assert info.value.code == (code if status < 500 else None)  # a 5xx body is not even read
    assert KEY not in str(info.value)
    assert [r.path for r in fake.requests] == ["/orders"]  # sent once


async def test_json_500_on_create_order_is_unclear_not_sold(provider: SMSCodeProvider, fake: FakeSMSCode) -> None:
    """The issue's case: ``500 {"success": false, "error": {"code": "INTERNAL"}}`` to create-order was
    read as "not sold", and the bot bought a second number elsewhere while this one may exist."""
    fake.respond_next(httpx.Response(500, json={"success": False, "error": {"code": "INTERNAL", "message": "db"}}))
    with pytest.raises(errors.UnclearResult) as info:
        await provider.buy(OFFER)
    assert "HTTP 500" in str(info.value)
    fake.respond_next(httpx.Response(500, json={"success": False, "error": {"code": "PRODUCT_UNAVAILABLE"}}))
    with pytest.raises(errors.UnclearResult):  # even a refusal code in a 5xx is not trusted on a paid call
        await provider.buy(OFFER)


@pytest.mark.parametrize(("status", "code", "expected"), ERROR_TABLE)
@pytest.mark.parametrize("call", ["offers", "check", "cancel", "balance"])
async def test_error_table_on_reads(
    provider: SMSCodeProvider, fake: FakeSMSCode, status: int, code: str, expected: type, call: str
) -> None:
    fake.fail_next(status, code)
    with pytest.raises(expected):
        await _call(provider, call)


def test_raise_for_by_code_first_then_status() -> None:
    raise_for(200, {"success": True, "data": {}})
    with pytest.raises(errors.OrderNotFound):
        raise_for(503, {"success": False, "error": {"code": "ORDER_NOT_FOUND"}})
    with pytest.raises(errors.Unauthorized):
        raise_for(401, ["not", "an", "object"])
    with pytest.raises(errors.OutOfStock):
        raise_for(400, {"success": False, "error": "product_unavailable"})
    with pytest.raises(errors.BadResponse):
        raise_for(200, {"success": False})


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize("call", ["offers", "check", "cancel", "balance"])
async def test_server_error_on_an_unpaid_call_is_unavailable(
    provider: SMSCodeProvider, fake: FakeSMSCode, status: int, call: str
) -> None:
    fake.html_next(status)
    with pytest.raises(errors.Unavailable) as info:
        await _call(provider, call)
    assert type(info.value) is errors.Unavailable
    fake.fail_next(status, "INTERNAL")  # a JSON 5xx too
    with pytest.raises(errors.Unavailable) as info:
        await _call(provider, call)
    assert type(info.value) is errors.Unavailable


def _html(status: int) -> httpx.Response:
    return httpx.Response(status, text=FakeSMSCode.error_page, headers={"Content-Type": "text/html"})


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(200, text="<html>ok</html>"), errors.UnclearResult),
        (httpx.Response(200, content=b""), errors.UnclearResult),
        (httpx.Response(200, json={"success": True}), errors.UnclearResult),
        (httpx.Response(200, json=["ord_1"]), errors.UnclearResult),
        (httpx.Response(200, json={"success": True, "data": {"order_id": "ord_1"}}), errors.UnclearResult),
        (httpx.Response(504, text="<html>gateway timeout</html>"), errors.UnclearResult),
        (_html(401), errors.Unauthorized),  # a paid 4xx without JSON reaches the status table: a refusal
        (_html(400), errors.UnclearResult),  # ... but a status it does not map is unclear
    ],
)
async def test_unreadable_answer_to_buy_is_unclear_unless_its_status_refuses(
    provider: SMSCodeProvider, fake: FakeSMSCode, response: httpx.Response, expected: type
) -> None:
    """A paid request that may have bought the number: never a plain error to fail over from, unless
    the status alone is a documented refusal."""
    fake.respond_next(response)
    with pytest.raises(expected) as info:
        await provider.buy(OFFER)
    assert type(info.value) is expected


def _call(provider: SMSCodeProvider, call: str) -> Awaitable[object]:
    return adapter_call(provider, call, OFFER, "ord_000001")
