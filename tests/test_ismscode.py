"""ISMSCodeProvider against the in-memory fake built from the iSMScode document."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from providers import errors
from providers.base import Offer, UpstreamState
from providers.http import make_client, request_json
from providers.ismscode.client import ISMSCodeProvider
from providers.ismscode.parse import raise_for
from tests.adapter_fixtures import adapter_fixtures
from tests.fakes.ismscode import FakeISMSCode

KEY = "sk_live_SECRET_0123456789"
OFFER = Offer(provider="ismscode", service="whatsapp", country="US", cost=None, currency="USD", stock=None)


fake, provider = adapter_fixtures(FakeISMSCode, ISMSCodeProvider, KEY)


async def test_offers_every_pair(provider: ISMSCodeProvider, fake: FakeISMSCode) -> None:
    offers = await provider.offers()
    assert len(offers) == 3 * 3
    assert {(o.service, o.country) for o in offers} >= {("whatsapp", "US"), ("telegram", "GB")}
    assert all(o.cost is None and o.stock is None and o.currency == "USD" for o in offers)
    assert [r.path for r in fake.requests] == ["/countries", "/services"]
    assert fake.requests[0].headers["authorization"] == "***"


async def test_offers_one_country(provider: ISMSCodeProvider) -> None:
    offers = await provider.offers("gb")
    assert {o.country for o in offers} == {"GB"} and len(offers) == 3
    assert await provider.offers("ZZ") == []


async def test_buy_parses_number(provider: ISMSCodeProvider, fake: FakeISMSCode) -> None:
    purchase = await provider.buy(OFFER)
    number = fake.numbers[purchase.upstream_id]
    assert purchase.phone == number.phone
    assert purchase.expires_at == number.expires_at and purchase.expires_at.tzinfo is not None
    assert purchase.cost is None
    assert fake.requests[-1].method == "POST"
    assert fake.requests[-1].json == {"country": "US", "service": "whatsapp"}


async def test_buy_price_is_decimal_not_float(provider: ISMSCodeProvider, fake: FakeISMSCode) -> None:
    fake.price = "0.35"  # to_minor rejects floats, so a float parse would leave cost None
    assert (await provider.buy(OFFER)).cost == 35


async def test_request_json_parses_floats_as_decimal(fake: FakeISMSCode) -> None:
    fake.price = "1.25"
    async with make_client("https://x/api/v3", headers={"API-Key": KEY}, transport=fake) as client:
        payload = {"country": "US", "service": "google"}
        status, body = await request_json(client, "t", "POST", "/numbers/request", json=payload)
    assert status == 200 and isinstance(body, dict)
    assert body["number"]["price"] == Decimal("1.25") and isinstance(body["number"]["price"], Decimal)


@pytest.mark.parametrize(
    ("response", "paid", "expected"),
    [  # expected: an error type, or the (status, body) handed to the adapter
        (httpx.Response(500, json={"status": "error", "code": "no_numbers_available"}), True, errors.UnclearResult),
        (httpx.Response(502, json={"status": "error", "code": "invalid_country"}), True, errors.UnclearResult),
        (httpx.Response(503, text="<html>maintenance</html>"), True, errors.UnclearResult),
        (httpx.Response(503, content=b""), True, errors.UnclearResult),
        (httpx.Response(302, text="<html>moved</html>"), True, errors.UnclearResult),
        (httpx.Response(200, text="<html>ok</html>"), True, errors.UnclearResult),
        (httpx.Response(404, text="<html>nope</html>"), True, (404, None)),  # the adapter's status table decides
        (httpx.Response(429, text="slow"), True, errors.RateLimited),
        (httpx.Response(500, json={"status": "error", "code": "x"}), False, (500, {"status": "error", "code": "x"})),
        (httpx.Response(503, text="<html>maintenance</html>"), False, errors.Unavailable),
        (httpx.Response(404, text="<html>nope</html>"), False, errors.BadResponse),
    ],
)
async def test_request_json_paid_rule(
    fake: FakeISMSCode, response: httpx.Response, paid: bool, expected: type | tuple
) -> None:
    """A paid request: any 5xx or an unreadable non-4xx is unclear before any body mapping."""
    fake.respond_next(response)
    async with make_client("https://x/api/v3", headers={"API-Key": KEY}, transport=fake) as client:
        if isinstance(expected, tuple):
            assert await request_json(client, "t", "POST", "/numbers/request", paid=paid, json={}) == expected
            return
        with pytest.raises(expected) as info:
            await request_json(client, "t", "POST", "/numbers/request", paid=paid, json={})
    assert type(info.value) is expected


async def test_buy_accepts_field_variants(provider: ISMSCodeProvider, fake: FakeISMSCode) -> None:
    number = {"number_id": 77, "phone_number": "+4470000", "expires_at": "2026-03-21T20:15:00"}
    fake.respond_next(httpx.Response(200, json={"status": "success", "number": number}))
    purchase = await provider.buy(OFFER)
    assert (purchase.upstream_id, purchase.phone) == ("77", "+4470000")
    assert purchase.expires_at == datetime(2026, 3, 21, 20, 15, tzinfo=UTC)


async def test_check_without_and_with_sms(provider: ISMSCodeProvider, fake: FakeISMSCode) -> None:
    purchase = await provider.buy(OFFER)
    status = await provider.check(purchase.upstream_id)
    assert status.state is UpstreamState.WAITING and status.sms == ()
    fake.add_sms(purchase.upstream_id, "Your WhatsApp code: 583920")
    fake.add_sms(purchase.upstream_id, "Your WhatsApp code: 111222", sender="WhatsApp")
    status = await provider.check(purchase.upstream_id)
    assert status.state is UpstreamState.RECEIVED
    assert [s.text for s in status.sms] == ["Your WhatsApp code: 583920", "Your WhatsApp code: 111222"]
    assert [s.sender for s in status.sms] == ["+447123456789", "WhatsApp"]
    assert all(s.received_at and s.received_at.tzinfo for s in status.sms)
    assert fake.requests[-1].path == f"/numbers/{purchase.upstream_id}/sms"


async def test_check_unknown_number(provider: ISMSCodeProvider) -> None:
    with pytest.raises(errors.OrderNotFound):
        await provider.check("num_missing")


async def test_real_errors_from_fake_state(provider: ISMSCodeProvider, fake: FakeISMSCode) -> None:
    fake.out_of_stock.add(("whatsapp", "US"))
    with pytest.raises(errors.OutOfStock):
        await provider.buy(OFFER)
    with pytest.raises(errors.InvalidRequest) as info:
        await provider.buy(Offer("ismscode", "whatsapp", "ZZ", None, "USD", None))
    assert info.value.code == "invalid_country"


# (HTTP status, string code, on the paid request-number call, on reading a number's SMS): the
# document's error table plus the codes it leaves implicit. Its 404 means no_numbers_available, for
# requesting a number; on the SMS of an existing number a 404 is assumed to mean an unknown id.
ERROR_TABLE = [
    (400, "invalid_service", errors.InvalidRequest, errors.InvalidRequest),
    (400, "invalid_country", errors.InvalidRequest, errors.InvalidRequest),
    (401, "unauthorized", errors.Unauthorized, errors.Unauthorized),
    (402, "insufficient_balance", errors.ProviderBalanceLow, errors.ProviderBalanceLow),
    (404, "no_numbers_available", errors.OutOfStock, errors.OutOfStock),
    (404, "not_found", errors.OutOfStock, errors.OrderNotFound),
    (404, "something_else", errors.OutOfStock, errors.OrderNotFound),
    (429, "rate_limit_exceeded", errors.RateLimited, errors.RateLimited),
    (500, "internal_error", errors.UnclearResult, errors.Unavailable),  # paid 5xx: the number may exist
    (503, "maintenance", errors.UnclearResult, errors.Unavailable),
    (502, "no_numbers_available", errors.UnclearResult, errors.OutOfStock),  # whatever the 5xx body says
    (200, "insufficient_balance", errors.ProviderBalanceLow, errors.ProviderBalanceLow),  # "status":"error" in a 200
    (200, "no_numbers_available", errors.OutOfStock, errors.OutOfStock),
    (200, "mystery", errors.UnclearResult, errors.BadResponse),  # no documented refusal: unclear when paid
    (418, "teapot", errors.UnclearResult, errors.BadResponse),
]


@pytest.mark.parametrize(("status", "code", "expected", "_"), ERROR_TABLE)
async def test_error_table_on_buy(
    provider: ISMSCodeProvider, fake: FakeISMSCode, status: int, code: str, expected: type, _: type
) -> None:
    fake.fail_next(status, code, message=f"bad key {KEY}")  # an upstream echoing the key
    with pytest.raises(expected) as info:
        await provider.buy(OFFER)
    assert type(info.value) is expected  # a refusal is not a subclass such as UnclearResult
    assert KEY not in str(info.value)
    assert [r.path for r in fake.requests] == ["/numbers/request"]


@pytest.mark.parametrize(("status", "code", "_", "expected"), ERROR_TABLE)
async def test_error_table_on_check(
    provider: ISMSCodeProvider, fake: FakeISMSCode, status: int, code: str, _: type, expected: type
) -> None:
    fake.fail_next(status, code)
    with pytest.raises(expected) as info:
        await provider.check("num_000001")
    assert type(info.value) is expected


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(404, json={"status": "error", "message": "Out of stock."}),  # no code
        httpx.Response(404, json={"status": "error", "code": "not_found"}),
        httpx.Response(404, content=b""),  # no JSON at all
        httpx.Response(404, text="<html>Not Found</html>"),
    ],
)
async def test_bare_404_on_request_number_is_out_of_stock(
    provider: ISMSCodeProvider, fake: FakeISMSCode, response: httpx.Response
) -> None:
    """The error table: 404 = no_numbers_available. A definite "not sold", never OrderNotFound."""
    fake.respond_next(response)
    with pytest.raises(errors.OutOfStock) as info:
        await provider.buy(OFFER)
    assert type(info.value) is errors.OutOfStock


async def test_404_on_an_unknown_number_is_order_not_found(provider: ISMSCodeProvider, fake: FakeISMSCode) -> None:
    with pytest.raises(errors.OrderNotFound):  # the fake's own answer for an id it does not know
        await provider.check("num_999999")
    fake.respond_next(httpx.Response(404, json={"status": "error", "message": "gone"}))
    with pytest.raises(errors.OrderNotFound):
        await provider.check("num_000001")


def test_raise_for_by_code_first_then_status() -> None:
    raise_for(200, {"status": "success", "sms": []})
    with pytest.raises(errors.OutOfStock):
        raise_for(503, {"status": "error", "code": "no_numbers_available"})
    with pytest.raises(errors.Unauthorized):
        raise_for(401, ["not", "an", "object"])
    with pytest.raises(errors.BadResponse):
        raise_for(200, {"status": "error"})
    with pytest.raises(errors.OutOfStock):  # requesting a number: the table's 404
        raise_for(404, {"status": "error", "code": "not_found"}, path="/numbers/request")
    with pytest.raises(errors.OrderNotFound):  # anywhere else: the number is unknown
        raise_for(404, None)


async def test_wrong_shape_is_bad_response(provider: ISMSCodeProvider, fake: FakeISMSCode) -> None:
    fake.respond_next(httpx.Response(200, json={"status": "success", "number": {"id": "x"}}))
    with pytest.raises(errors.UnclearResult):  # paid: a success without a phone is looked up, not retried
        await provider.buy(OFFER)
    fake.respond_next(httpx.Response(200, json=["whatsapp"]))
    with pytest.raises(errors.BadResponse):
        await provider.check("num_000001")


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("1.5", 1.5), (None, None), ("soon", None)])
async def test_429_retry_after(
    provider: ISMSCodeProvider, fake: FakeISMSCode, header: str | None, expected: float | None
) -> None:
    fake.fail_next(429, "rate_limit_exceeded", headers={"Retry-After": header} if header else None)
    with pytest.raises(errors.RateLimited) as info:
        await provider.check("num_000001")
    assert info.value.retry_after == expected
    assert info.value.code == "rate_limit_exceeded"


async def test_cancel_is_noop_and_balance_unsupported(provider: ISMSCodeProvider, fake: FakeISMSCode) -> None:
    purchase = await provider.buy(OFFER)
    count = len(fake.requests)
    assert await provider.cancel(purchase.upstream_id) is None
    with pytest.raises(errors.InvalidRequest) as info:
        await provider.balance()
    assert info.value.code == "unsupported"
    assert len(fake.requests) == count  # neither call invents an endpoint
