"""SmsxProvider against the in-memory fake built from the SMSX partner API document."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from providers import errors
from providers.base import Offer, Sms, UpstreamState
from providers.http import make_client, request_json
from providers.smsx.client import SmsxProvider
from providers.smsx.parse import raise_for
from tests.adapter_fixtures import adapter_fixtures
from tests.fakes.smsx import FakeActivation, FakeSmsx, dumps

KEY = "px_live_SECRET_0123456789abcdef"
OFFER = Offer("smsx", "telegram", "IN", 35, "USD", 120, product_id="tg|22")


def _answer(body: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, text=dumps(body), headers={"Content-Type": "application/json"})


fake, provider = adapter_fixtures(FakeSmsx, SmsxProvider, KEY)


async def test_offers_from_countries_services_prices(provider: SmsxProvider, fake: FakeSmsx) -> None:
    offers = await provider.offers()
    got = {(o.service, o.country, o.cost, o.stock, o.product_id) for o in offers}
    assert got == {
        ("telegram", "IN", 35, 120, "tg|22"),
        ("whatsapp", "IN", 50, 8, "wa|22"),
        ("telegram", "US", 110, 0, "tg|12"),
        ("some_app", "GB", 7, 40, "qq|16"),  # unknown code "qq": slug from its name
    }
    assert all(o.currency == "USD" and o.provider == "smsx" for o in offers)
    assert [(r.method, r.action, r.params) for r in fake.requests] == [
        ("GET", "countries", {}),
        ("GET", "services", {}),
        ("GET", "prices", {}),
    ]
    assert fake.requests[0].headers["x-api-key"] == "***"
    assert "authorization" not in fake.requests[0].headers


async def test_offers_one_country_asks_prices_per_id(provider: SmsxProvider, fake: FakeSmsx) -> None:
    offers = await provider.offers("in")
    assert {(o.service, o.country) for o in offers} == {("telegram", "IN"), ("whatsapp", "IN")}
    assert fake.requests[-1].params == {"country": "22"}
    count = len(fake.requests)
    assert await provider.offers("ZZ") == []
    assert [r.action for r in fake.requests[count:]] == ["countries", "services"]  # no prices call


async def test_offers_accept_variant_shapes(provider: SmsxProvider, fake: FakeSmsx) -> None:
    fake.respond_next(_answer({"countries": {"22": {"eng": "India"}, "999": {"name": "Indonesia"}}}))
    fake.respond_next(_answer({"services": {"tg": "Telegram", "zz": "Zed Chat"}}))
    rows = [
        {"country": 22, "service": "tg", "price": "0.35", "stock": 3},
        {"country_id": "999", "service_code": "zz", "cost": 2, "count": "7"},
        {"country": 22, "service": "wa", "price": "n/a"},  # unreadable price: skipped
        {"country": 22, "service": "go"},  # no price published: kept with cost None
    ]
    fake.respond_next(_answer({"prices": rows, "upstream_action": "getPrices"}))
    offers = await provider.offers()
    got = {(o.service, o.country, o.cost, o.stock, o.product_id) for o in offers}
    assert got == {
        ("telegram", "IN", 35, 3, "tg|22"),
        ("zed_chat", "ID", 200, 7, "zz|999"),  # id 999 unmapped: country from its name
        ("google", "IN", None, None, "go|22"),
    }


@pytest.mark.parametrize(
    "answers",
    [
        [{"countries": "India"}],
        [{"countries": []}, {"services": 5}],
        [{"countries": []}, {"services": []}, {"prices": "none"}],
    ],
)
async def test_offers_wrong_shape_is_bad_response(provider: SmsxProvider, fake: FakeSmsx, answers: list) -> None:
    for answer in answers:
        fake.respond_next(_answer(answer))
    with pytest.raises(errors.BadResponse):
        await provider.offers()


async def test_buy_sends_upstream_codes(provider: SmsxProvider, fake: FakeSmsx) -> None:
    offer = next(o for o in await provider.offers("IN") if o.service == "telegram")
    purchase = await provider.buy(offer)
    activation = fake.activations[purchase.upstream_id]
    assert purchase.upstream_id == "5000001" and purchase.phone == activation.phone
    assert (activation.service, activation.country) == ("tg", 22)
    assert purchase.cost is None
    last = fake.requests[-1]
    assert (last.method, last.action, last.json) == ("POST", "rent_number", {"service": "tg", "country": 22})
    assert fake.prices[(22, "tg")][1] == 119


async def test_buy_cost_is_decimal_not_float(provider: SmsxProvider, fake: FakeSmsx) -> None:
    fake.rent_cost = "0.35"  # to_minor rejects floats, so a float parse would leave cost None
    assert (await provider.buy(OFFER)).cost == 35


async def test_request_json_parses_numbers_as_decimal(fake: FakeSmsx) -> None:
    async with make_client("http://127.0.0.1:9", headers={"Authorization": f"Bearer {KEY}"}, transport=fake) as c:
        status, body = await request_json(c, "t", "GET", "/api/virtual-numbers.php", params={"action": "prices"})
    assert status == 200 and isinstance(body, dict)  # the fake takes Bearer too, as documented
    assert str(body["prices"]["22"]["tg"]["cost"]) == "0.35"
    assert type(body["prices"]["22"]["tg"]["cost"]).__name__ == "Decimal"


async def test_fake_wallet_needs_partner_user(fake: FakeSmsx) -> None:
    """The fake's ``wallet`` needs the partner user, as the document says."""
    async with make_client("http://127.0.0.1:9", headers={"X-API-Key": KEY}, transport=fake) as c:
        status, body = await request_json(c, "t", "GET", "/api/virtual-numbers.php", params={"action": "wallet"})
        assert status == 200 and isinstance(body, dict) and str(body["balance"]) == "5.00"
        fake.partner_user_configured = False
        status, body = await request_json(c, "t", "GET", "/api/virtual-numbers.php", params={"action": "wallet"})
    assert (status, body) == (503, {"ok": False, "error": "partner_user_not_configured"})


@pytest.mark.parametrize(
    "answer",
    [
        {"ok": True, "id": 77, "number": "+919000000077"},
        {"activationId": "77", "phone_number": "+919000000077"},
        {"ok": True, "data": {"activation_id": 77, "phone": 919000000077}},
    ],
)
async def test_buy_accepts_field_variants(provider: SmsxProvider, fake: FakeSmsx, answer: dict) -> None:
    fake.respond_next(_answer(answer))
    purchase = await provider.buy(OFFER)
    assert purchase.upstream_id == "77"
    assert purchase.phone.lstrip("+") == "919000000077"


@pytest.mark.parametrize("answer", [{"ok": True, "activation_id": 5}, {"phone": "+91"}, ["5", "+91"]])
async def test_buy_unreadable_success_is_unclear(provider: SmsxProvider, fake: FakeSmsx, answer: object) -> None:
    fake.respond_next(_answer(answer))
    with pytest.raises(errors.UnclearResult):
        await provider.buy(OFFER)


async def test_buy_needs_our_product_id(provider: SmsxProvider, fake: FakeSmsx) -> None:
    with pytest.raises(errors.InvalidRequest):
        await provider.buy(Offer("smsx", "telegram", "IN", 35, "USD", 1))
    assert fake.requests == []


async def test_real_errors_from_fake_state(provider: SmsxProvider, fake: FakeSmsx) -> None:
    """SMSBower's refusal words come with HTTP 502 (the fake's assumption): on the paid rent_number a
    5xx is unclear whatever its body, so they are no "not sold" there (see providers.http)."""
    for offer in (
        Offer("smsx", "telegram", "US", 110, "USD", 0, product_id="tg|12"),  # count 0: NO_NUMBERS
        Offer("smsx", "x", "IN", 1, "USD", 1, product_id="nope|22"),  # BAD_SERVICE
        Offer("smsx", "telegram", "X77", 1, "USD", 1, product_id="tg|77"),  # WRONG_COUNTRY_ID
    ):
        with pytest.raises(errors.UnclearResult) as info:
            await provider.buy(offer)
        assert "HTTP 502" in str(info.value)
    fake.no_balance = True
    with pytest.raises(errors.UnclearResult):
        await provider.buy(OFFER)
    assert fake.activations == {}
    purchase_id = "5000001"
    fake.activations[purchase_id] = FakeActivation(purchase_id, "919800000001", "tg", 22)
    await provider.cancel(purchase_id)
    with pytest.raises(errors.OrderNotFound):  # spends nothing: the word in the 502 is read
        await provider.cancel("404404")


async def test_rent_spends_the_wallet_which_balance_reports(provider: SmsxProvider, fake: FakeSmsx) -> None:
    """``balance`` is the partner's SMSBower funds; renting spends our ``wallet``, so that is ours."""
    assert (await provider.balance()).amount == 500
    await provider.buy(OFFER)  # tg|22 costs 0.35
    balance = await provider.balance()
    assert (balance.amount, balance.currency) == (465, "USD")
    assert fake.smsbower_balance == "12.34"  # untouched by renting, never reported
    calls = [(r.method, r.action) for r in fake.requests]
    assert calls == [("GET", "wallet"), ("POST", "rent_number"), ("GET", "wallet")]


async def test_rent_with_too_little_in_the_wallet_is_provider_balance_low(
    provider: SmsxProvider, fake: FakeSmsx
) -> None:
    fake.wallet = Decimal("0.30")  # below tg|22's 0.35
    with pytest.raises(errors.ProviderBalanceLow) as info:
        await provider.buy(OFFER)
    assert type(info.value) is errors.ProviderBalanceLow  # a definite "not sold": the next offer may sell
    assert fake.activations == {} and fake.prices[(22, "tg")][1] == 120
    assert (await provider.balance()).amount == 30  # what the low-balance alert watches
    fake.wallet = Decimal("0")
    with pytest.raises(errors.ProviderBalanceLow):
        await provider.buy(OFFER)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (402, "insufficient_wallet_balance"),
        (400, "Insufficient funds in wallet"),
        (403, "wallet is empty"),
        (200, "not enough balance"),
        (402, "payment required"),
        (409, "LOW_BALANCE"),
    ],
)
async def test_low_wallet_answers_on_rent(provider: SmsxProvider, fake: FakeSmsx, status: int, error: str) -> None:
    fake.fail_next(status, error)
    with pytest.raises(errors.ProviderBalanceLow) as info:
        await provider.buy(OFFER)
    assert type(info.value) is errors.ProviderBalanceLow


async def test_check_waiting_then_codes(provider: SmsxProvider, fake: FakeSmsx) -> None:
    purchase = await provider.buy(OFFER)
    status = await provider.check(purchase.upstream_id)
    assert status.state is UpstreamState.WAITING and status.sms == ()
    assert (fake.requests[-1].method, fake.requests[-1].params) == ("GET", {"id": purchase.upstream_id})
    fake.deliver_otp(purchase.upstream_id, "583920", text="Telegram code 583920")
    status = await provider.check(purchase.upstream_id)
    assert status.state is UpstreamState.RECEIVED
    assert status.sms == (Sms(text="Telegram code 583920", code="583920"),)
    fake.deliver_otp(purchase.upstream_id, "111222")  # no text: the adapter writes one
    assert (await provider.check(purchase.upstream_id)).sms == (Sms(text="Code: 111222", code="111222"),)


async def test_check_several_sms_as_history(provider: SmsxProvider, fake: FakeSmsx) -> None:
    history = [{"text": "code 1111", "otp": "1111"}, "code 2222", {"otp": 3333}]
    fake.respond_next(_answer({"ok": True, "status": "received", "otp": "3333", "sms": history}))
    status = await provider.check("5000001")
    assert status.state is UpstreamState.RECEIVED
    assert status.sms == (Sms("code 1111", "1111"), Sms("code 2222"), Sms("Code: 3333", "3333"))


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ({"status": "cancelled"}, UpstreamState.CANCELLED),
        ({"status": "Canceled"}, UpstreamState.CANCELLED),
        ({"status": "expired"}, UpstreamState.EXPIRED),
        ({"status": "finished", "otp": "42"}, UpstreamState.FINISHED),
    ],
)
async def test_check_other_states(provider: SmsxProvider, fake: FakeSmsx, answer: dict, state: UpstreamState) -> None:
    fake.respond_next(_answer(answer))
    assert (await provider.check("5000001")).state is state


async def test_check_unknown_and_odd_answers(
    provider: SmsxProvider, fake: FakeSmsx, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(errors.OrderNotFound):  # status unknown, raw NO_ACTIVATION
        await provider.check("123")
    purchase = await provider.buy(OFFER)
    tail = "TAIL_THAT_MUST_NOT_BE_LOGGED"
    fake.set_raw(purchase.upstream_id, "STATUS_WAIT_RESEND" + "x" * 40 + tail)
    with pytest.raises(errors.BadResponse) as info:
        await provider.check(purchase.upstream_id)
    assert "STATUS_WAIT_RESEND" in str(info.value) and tail not in str(info.value)
    assert tail not in caplog.text
    fake.respond_next(_answer({"ok": True, "status": "received"}))
    with pytest.raises(errors.BadResponse):  # received without otp or text
        await provider.check(purchase.upstream_id)
    fake.respond_next(_answer({"ok": True}))
    with pytest.raises(errors.BadResponse):
        await provider.check(purchase.upstream_id)


async def test_cancel(provider: SmsxProvider, fake: FakeSmsx) -> None:
    purchase = await provider.buy(OFFER)
    assert await provider.cancel(purchase.upstream_id) is None
    last = fake.requests[-1]
    assert (last.method, last.action, last.json) == ("POST", "cancel", {"id": purchase.upstream_id})
    assert fake.activations[purchase.upstream_id].status == "cancelled"
    assert (await provider.check(purchase.upstream_id)).state is UpstreamState.CANCELLED
    with pytest.raises(errors.OrderNotFound):
        await provider.cancel("999")


async def test_cancel_refused(provider: SmsxProvider, fake: FakeSmsx) -> None:
    first, second = await provider.buy(OFFER), await provider.buy(OFFER)
    fake.deny_early_cancel = True
    with pytest.raises(errors.CancelRefused) as info:
        await provider.cancel(first.upstream_id)
    assert info.value.code == "EARLY_CANCEL_DENIED"
    fake.deny_early_cancel = False
    fake.deliver_otp(second.upstream_id, "5555")
    with pytest.raises(errors.CancelRefused) as info:
        await provider.cancel(second.upstream_id)
    assert info.value.code == "BAD_STATUS"
    assert fake.activations[first.upstream_id].status == "waiting"


@pytest.mark.parametrize(
    ("currency", "value", "expected"),
    [(None, "12.34", (1234, "USD")), ("rub", "12.34", (1234, "RUB")), ("IDR", "15000", (15000, "IDR"))],
)
async def test_balance_is_the_wallet(
    provider: SmsxProvider, fake: FakeSmsx, currency: str | None, value: str, expected: tuple[int, str]
) -> None:
    fake.wallet_currency, fake.wallet = currency, Decimal(value)
    fake.smsbower_balance = "999.99"  # the partner's own funds: never our balance
    balance = await provider.balance()
    assert (balance.amount, balance.currency) == expected
    assert [(r.method, r.action) for r in fake.requests] == [("GET", "wallet")]  # not "balance"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"ok": True, "balance": "3.05", "user_id": 1}, (305, "USD")),
        ({"wallet_balance": 0.1}, (10, "USD")),
        ({"ok": True, "wallet": {"balance": "2.50", "currency": "rub"}}, (250, "RUB")),
        ({"ok": True, "wallet": "7"}, (700, "USD")),
        ({"ok": True, "data": {"balance": 1, "currency": "EUR"}}, (100, "EUR")),
    ],
)
async def test_balance_variants(provider: SmsxProvider, fake: FakeSmsx, answer: dict, expected: tuple) -> None:
    fake.respond_next(_answer(answer))
    balance = await provider.balance()
    assert (balance.amount, balance.currency) == expected


@pytest.mark.parametrize("answer", [{"ok": True, "user_id": 1}, {"ok": True, "smsbower_balance": "12.34"}])
async def test_balance_unreadable(provider: SmsxProvider, fake: FakeSmsx, answer: dict) -> None:
    fake.respond_next(_answer(answer))
    with pytest.raises(errors.BadResponse):
        await provider.balance()


async def test_partner_user_not_configured(provider: SmsxProvider, fake: FakeSmsx) -> None:
    purchase = await provider.buy(OFFER)
    fake.partner_user_configured = False
    assert len(await provider.offers()) == 4  # the catalogue does not need the partner user
    for call in (provider.check(purchase.upstream_id), provider.cancel(purchase.upstream_id), provider.balance()):
        with pytest.raises(errors.Unauthorized) as info:
            await call
        assert info.value.code == "partner_user_not_configured"
    with pytest.raises(errors.UnclearResult):  # documented, but a 503: on the paid rent it is not trusted
        await provider.buy(OFFER)


async def test_server_without_api_keys_is_unavailable(provider: SmsxProvider, fake: FakeSmsx) -> None:
    fake.api_keys_configured = False
    with pytest.raises(errors.Unavailable) as info:
        await provider.balance()
    assert type(info.value) is errors.Unavailable


# (HTTP status, error string) from the document's HTTP table and SMSBower's error words
ERROR_TABLE = [
    (400, "invalid_input", errors.InvalidRequest),
    (401, "unauthorized", errors.Unauthorized),
    (405, "method_not_allowed", errors.InvalidRequest),
    (501, "outbound_sms_not_configured", errors.InvalidRequest),
    (502, "provider error", errors.Unavailable),
    (503, "partner_user_not_configured", errors.Unauthorized),
    (503, "no_api_keys_configured", errors.Unavailable),
    (500, "internal", errors.Unavailable),
    (502, "NO_NUMBERS", errors.OutOfStock),
    (502, "NO_BALANCE", errors.ProviderBalanceLow),
    (502, "BAD_KEY", errors.Unauthorized),
    (502, "BAD_SERVICE", errors.InvalidRequest),
    (502, "WRONG_COUNTRY_ID", errors.InvalidRequest),
    (502, "BAD_ACTION", errors.InvalidRequest),
    (502, "NO_ACTIVATION", errors.OrderNotFound),
    (502, "WRONG_ACTIVATION_ID", errors.OrderNotFound),
    (502, "EARLY_CANCEL_DENIED", errors.CancelRefused),
    (502, "BAD_STATUS", errors.CancelRefused),
    (502, "SMSBower said: NO_NUMBERS", errors.OutOfStock),  # embedded word
    (400, "no_numbers", errors.OutOfStock),  # word before status, any case
    (200, "NO_BALANCE", errors.ProviderBalanceLow),  # {"ok": false} inside a 200
    (200, "mystery", errors.BadResponse),
    (418, "teapot", errors.BadResponse),
    (402, "insufficient_wallet_balance", errors.ProviderBalanceLow),
    (402, "whatever", errors.ProviderBalanceLow),
    (400, "Insufficient funds", errors.ProviderBalanceLow),
]


@pytest.mark.parametrize(("status", "error", "expected"), ERROR_TABLE)
async def test_error_table_on_buy(
    provider: SmsxProvider, fake: FakeSmsx, status: int, error: str, expected: type
) -> None:
    """rent_number spends money: a 5xx whatever its body, or an error no table knows, is unclear."""
    fake.fail_next(status, f"{error} for key {KEY}")  # an upstream echoing the key
    if status >= 500 or expected is errors.BadResponse:
        expected = errors.UnclearResult
    with pytest.raises(expected) as info:
        await provider.buy(OFFER)
    assert type(info.value) is expected  # a refusal is not a subclass such as UnclearResult
    assert KEY not in str(info.value) and KEY not in repr(info.value)


@pytest.mark.parametrize(("status", "error", "expected"), ERROR_TABLE)
async def test_error_table_on_check(
    provider: SmsxProvider, fake: FakeSmsx, status: int, error: str, expected: type
) -> None:
    fake.fail_next(status, error)
    with pytest.raises(expected):
        await provider.check("5000001")


def test_raise_for_word_first_then_status() -> None:
    raise_for(200, {"ok": True, "status": "waiting"})
    raise_for(200, {"ok": True, "error": None})
    with pytest.raises(errors.OutOfStock):
        raise_for(401, {"error": "NO_NUMBERS"})
    with pytest.raises(errors.Unauthorized):
        raise_for(401, ["not", "an", "object"])
    with pytest.raises(errors.BadResponse):
        raise_for(200, {"ok": False})
    with pytest.raises(errors.Unauthorized) as info:
        raise_for(503, {"error": "partner_user_not_configured"})
    assert info.value.code == "partner_user_not_configured"


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_refusal_word_in_a_5xx_to_rent_is_unclear(provider: SmsxProvider, fake: FakeSmsx, status: int) -> None:
    """Beyond the contract's 5xx cases (tests/test_adapter_contract.py): even SMSBower's own refusal word
    is not trusted on a paid call."""
    fake.fail_next(status, "NO_NUMBERS")
    with pytest.raises(errors.UnclearResult):
        await provider.buy(OFFER)


async def test_key_echoed_in_a_raw_status_is_scrubbed(
    provider: SmsxProvider, fake: FakeSmsx, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    purchase = await provider.buy(OFFER)
    fake.set_raw(purchase.upstream_id, f"BAD_KEY {KEY}")
    with pytest.raises(errors.Unauthorized) as info:
        await provider.check(purchase.upstream_id)
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert KEY not in caplog.text


def test_a_key_echoed_past_the_cut_is_scrubbed_whole() -> None:
    secret = "sk_live_" + "x" * 48
    text = "API key " + secret + " is not allowed from IP 10.0.0.1 " + "." * 200
    with pytest.raises(errors.ProviderError) as info:
        raise_for(403, {"ok": False, "error": "a" * 170 + text}, secret=secret)
    assert "x" * 8 not in str(info.value) and (info.value.code or "").find("x" * 8) == -1
