"""SmsActivateProvider against the in-memory fake of the sms-activate ``handler_api.php`` protocol."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from decimal import Decimal

import httpx
import pytest

from providers import errors
from providers.base import Offer, Sms, Status, UpstreamState
from providers.smsactivate import parse
from providers.smsactivate.client import EARLY_CANCEL_RETRY, SmsActivateProvider
from tests.adapter_fixtures import adapter_call, adapter_fixtures
from tests.fakes.smsactivate import FakeSmsActivate
from tests.fakes.upstream import dumps

KEY = "f00dKEY_0123456789abcdef"
BASE = "https://sms.example/stubs/handler_api.php"
WA_RU = Offer("smsactivate", "whatsapp", "RU", 35, "USD", 120, product_id="wa|0")


fake, provider = adapter_fixtures(FakeSmsActivate, SmsActivateProvider, KEY, BASE)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://sms.example", BASE),
        ("https://sms.example/", BASE),
        ("  https://sms.example/stubs/handler_api.php ", BASE),
        ("http://10.0.0.5:8080", "http://10.0.0.5:8080/stubs/handler_api.php"),
        ("https://reseller.example/api/handler.php", "https://reseller.example/api/handler.php"),
    ],
)
def test_handler_url(given: str, expected: str) -> None:
    assert parse.handler_url(given) == expected


async def test_bare_host_reaches_the_handler_path(fake: FakeSmsActivate) -> None:
    p = SmsActivateProvider(KEY, "https://sms.example", transport=fake)
    assert (await p.balance()).amount == 10000
    assert fake.requests[-1].path == "/stubs/handler_api.php"
    assert fake.requests[-1].params == {"api_key": "***", "action": "getBalance"}
    await p.close()


async def test_offers_v1_prices(provider: SmsActivateProvider, fake: FakeSmsActivate) -> None:
    offers = {(o.service, o.country): o for o in await provider.offers()}
    wa_ru = offers[("whatsapp", "RU")]
    assert (wa_ru.cost, wa_ru.stock, wa_ru.currency, wa_ru.product_id) == (35, 120, "USD", "wa|0")
    assert wa_ru.provider == "smsactivate"
    assert offers[("telegram", "RU")].cost == 50 and offers[("telegram", "US")].cost == 120
    assert offers[("google", "ID")].stock == 0 and offers[("google", "ID")].cost == 8
    assert offers[("whatsapp", "XK")].product_id == "wa|250"  # unknown id 250 named by getCountries' eng
    assert fake.actions() == ["getPrices", "getCountries"]
    await provider.offers()
    assert fake.actions() == ["getPrices", "getCountries", "getPrices"]  # country names are cached


async def test_offers_one_country(provider: SmsActivateProvider, fake: FakeSmsActivate) -> None:
    del fake.prices[250]
    offers = await provider.offers("id")
    assert {(o.service, o.country, o.cost) for o in offers} == {("whatsapp", "ID", 12), ("google", "ID", 8)}
    assert "getCountries" not in fake.actions()  # every id was known to normalize
    assert await provider.offers("ZZ") == []


async def test_offers_v2_price_tiers(provider: SmsActivateProvider, fake: FakeSmsActivate) -> None:
    fake.price_shape = "v2"
    offers = {(o.service, o.country): o for o in await provider.offers()}
    assert (offers[("whatsapp", "RU")].cost, offers[("whatsapp", "RU")].stock) == (35, 120)
    fake.respond_next(httpx.Response(200, text='{"0": {"wa": {"0.50": 3, "0.35": 0, "0.41": 10}, "x": 1}}'))
    (offer,) = await provider.offers()
    assert (offer.cost, offer.stock, offer.product_id) == (41, 13, "wa|0")  # cheapest price still in stock


def test_prices_parse_as_decimal_never_float() -> None:
    rows = parse.prices('{"6": {"wa": {"cost": 0.35, "count": "12"}}}')
    assert rows == [("6", "wa", Decimal("0.35"), 12)]
    assert isinstance(rows[0][2], Decimal)
    assert parse.prices('["wa"]') is None


@pytest.mark.parametrize(("currency", "expected"), [("USD", 1235), ("RUB", 1235), ("IDR", 13)])
async def test_offer_cost_in_minor_units(fake: FakeSmsActivate, currency: str, expected: int) -> None:
    fake.prices = {0: {"wa": [Decimal("12.345"), 1]}}
    p = SmsActivateProvider(KEY, BASE, currency=currency, transport=fake)
    (offer,) = await p.offers()
    assert (offer.cost, offer.currency) == (expected, currency)  # rounded up, never through float
    await p.close()


async def test_buy_text_reply_then_ready(provider: SmsActivateProvider, fake: FakeSmsActivate) -> None:
    purchase = await provider.buy(WA_RU)
    activation = fake.activations[purchase.upstream_id]
    assert purchase.phone == f"+{activation.phone}" and purchase.cost is None and purchase.expires_at is None
    buy, ready = fake.requests[-2:]
    assert buy.params == {"api_key": "***", "action": "getNumber", "service": "wa", "country": "0", "maxPrice": "0.35"}
    assert ready.params == {"api_key": "***", "action": "setStatus", "id": purchase.upstream_id, "status": "1"}
    assert activation.ready and fake.prices[0]["wa"][1] == 119 and fake.balance == Decimal("99.65")


async def test_buy_without_cost_sends_no_max_price(provider: SmsActivateProvider, fake: FakeSmsActivate) -> None:
    await provider.buy(Offer("smsactivate", "telegram", "US", None, "USD", None, product_id="tg|187"))
    assert fake.requests[-2].params["country"] == "187" and "maxPrice" not in fake.requests[-2].params


async def test_buy_v2_json_reply(fake: FakeSmsActivate) -> None:
    p = SmsActivateProvider(KEY, BASE, name="bower", v2=True, transport=fake)
    purchase = await p.buy(WA_RU)
    assert fake.requests[-2].action == "getNumberV2"
    assert purchase.cost == 35 and purchase.phone == "+" + fake.activations[purchase.upstream_id].phone
    fake.respond_next(httpx.Response(200, json={"id": "abc", "phone": "+447700900123", "cost": "1.5"}))
    purchase = await p.buy(WA_RU)
    assert (purchase.upstream_id, purchase.phone, purchase.cost) == ("abc", "+447700900123", 150)
    await p.close()


async def test_buy_ready_failure_is_ignored(
    provider: SmsActivateProvider, fake: FakeSmsActivate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.reply_next("ACCESS_NUMBER:555:79001234567")
    fake.raise_next(httpx.ConnectError("refused"))
    purchase = await provider.buy(WA_RU)
    assert (purchase.upstream_id, purchase.phone) == ("555", "+79001234567")
    assert "setStatus=1 for 555 failed" in caplog.text and KEY not in caplog.text
    fake.reply_next("ACCESS_NUMBER:556:79001234568")
    fake.fail_next("BAD_STATUS")
    assert (await provider.buy(WA_RU)).upstream_id == "556"


async def test_buy_needs_a_product_id(provider: SmsActivateProvider, fake: FakeSmsActivate) -> None:
    with pytest.raises(errors.InvalidRequest):
        await provider.buy(Offer("smsactivate", "whatsapp", "RU", 35, "USD", 1))
    assert fake.requests == []


async def test_check_lifecycle(provider: SmsActivateProvider, fake: FakeSmsActivate) -> None:
    upstream_id = (await provider.buy(WA_RU)).upstream_id
    assert await provider.check(upstream_id) == Status(UpstreamState.WAITING)
    fake.deliver_code(upstream_id, "583920")
    status = await provider.check(upstream_id)
    assert status.state is UpstreamState.RECEIVED and status.sms == (Sms("Code: 583920", "583920"),)
    await provider.another_code(upstream_id)
    assert fake.requests[-1].params["status"] == "3"
    status = await provider.check(upstream_id)  # STATUS_WAIT_RETRY: still the earlier code
    assert status.state is UpstreamState.RECEIVED and [s.code for s in status.sms] == ["583920"]
    fake.deliver_code(upstream_id, "111222")
    assert [s.text for s in (await provider.check(upstream_id)).sms] == ["Code: 111222"]
    await provider.finish(upstream_id)
    assert fake.requests[-1].params["status"] == "6" and fake.activations[upstream_id].state == "finished"
    assert fake.requests[-2].params == {"api_key": "***", "action": "getStatus", "id": upstream_id}


@pytest.mark.parametrize(
    ("reply", "state", "codes"),
    [
        ("STATUS_WAIT_CODE", UpstreamState.WAITING, []),
        ("STATUS_WAIT_RESEND", UpstreamState.WAITING, []),
        ("STATUS_WAIT_RETRY:4321", UpstreamState.RECEIVED, ["4321"]),
        ("STATUS_OK:98-76", UpstreamState.RECEIVED, ["98-76"]),
        ("STATUS_CANCEL", UpstreamState.CANCELLED, []),
    ],
)
async def test_status_words(
    provider: SmsActivateProvider, fake: FakeSmsActivate, reply: str, state: UpstreamState, codes: list[str]
) -> None:
    fake.reply_next(reply)
    status = await provider.check("1")
    assert status.state is state and [s.code for s in status.sms] == codes


async def test_cancel(provider: SmsActivateProvider, fake: FakeSmsActivate) -> None:
    upstream_id = (await provider.buy(WA_RU)).upstream_id
    await provider.cancel(upstream_id)
    assert fake.requests[-1].params["status"] == "8"
    assert fake.activations[upstream_id].state == "cancel" and fake.balance == Decimal("100.00")
    assert (await provider.check(upstream_id)).state is UpstreamState.CANCELLED


async def test_early_cancel_denied(provider: SmsActivateProvider, fake: FakeSmsActivate) -> None:
    upstream_id = (await provider.buy(WA_RU)).upstream_id
    fake.early_cancel_denied = True
    with pytest.raises(errors.CancelRefused) as info:
        await provider.cancel(upstream_id)
    assert info.value.retry_after == EARLY_CANCEL_RETRY == 120.0 and info.value.code == "EARLY_CANCEL_DENIED"
    assert fake.activations[upstream_id].state == "wait_code"


async def test_balance(provider: SmsActivateProvider, fake: FakeSmsActivate) -> None:
    fake.balance = Decimal("123.45")
    balance = await provider.balance()
    assert (balance.amount, balance.currency) == (12345, "USD")


async def test_name_is_configurable(fake: FakeSmsActivate) -> None:
    p = SmsActivateProvider(KEY, BASE, name="bower", transport=fake)
    assert p.name == "bower" and SmsActivateProvider.name == "smsactivate"
    assert {o.provider for o in await p.offers()} == {"bower"}
    fake.fail_next("NO_NUMBERS")
    with pytest.raises(errors.OutOfStock) as info:
        await p.buy(WA_RU)
    assert info.value.provider == "bower" and str(info.value).startswith("[bower]")
    await p.close()


async def test_real_errors_from_fake_state(provider: SmsActivateProvider, fake: FakeSmsActivate) -> None:
    fake.prices[0]["wa"][1] = 0
    with pytest.raises(errors.OutOfStock):
        await provider.buy(WA_RU)
    with pytest.raises(errors.InvalidRequest) as info:
        await provider.buy(Offer("smsactivate", "telegram", "RU", 40, "USD", 1, product_id="tg|0"))
    assert info.value.code == "WRONG_MAX_PRICE" and "0.50" in str(info.value)  # the price rose to 0.50
    with pytest.raises(errors.InvalidRequest) as info:
        await provider.buy(Offer("smsactivate", "whatsapp", "X999", 1, "USD", 1, product_id="wa|999"))
    assert info.value.code == "WRONG_COUNTRY_ID"
    fake.balance = Decimal("0.10")
    with pytest.raises(errors.ProviderBalanceLow):
        await provider.buy(Offer("smsactivate", "telegram", "US", None, "USD", 1, product_id="tg|187"))
    with pytest.raises(errors.OrderNotFound):
        await provider.check("404")
    with pytest.raises(errors.OrderNotFound):
        await provider.cancel("404")
    wrong = SmsActivateProvider("wrong-key", BASE, transport=fake)
    with pytest.raises(errors.Unauthorized) as info:
        await wrong.balance()
    assert info.value.code == "BAD_KEY"
    await wrong.close()


async def test_banned_until(provider: SmsActivateProvider, fake: FakeSmsActivate) -> None:
    fake.banned_until = "2024-05-01 18:30:00"
    with pytest.raises(errors.Unauthorized) as info:
        await provider.offers()
    assert info.value.code == "BANNED" and "2024-05-01 18:30:00" in str(info.value)


ERROR_TABLE = [
    ("NO_NUMBERS", errors.OutOfStock),
    ("NO_BALANCE", errors.ProviderBalanceLow),
    ("BAD_KEY", errors.Unauthorized),
    ("BANNED:2024-05-01 18:30:00", errors.Unauthorized),
    ("BAD_ACTION", errors.InvalidRequest),
    ("BAD_SERVICE", errors.InvalidRequest),
    ("BAD_STATUS", errors.InvalidRequest),
    ("WRONG_COUNTRY_ID", errors.InvalidRequest),
    ("WRONG_MAX_PRICE:0.50", errors.InvalidRequest),
    ("NO_ACTIVATION", errors.OrderNotFound),
    ("WRONG_ACTIVATION_ID", errors.OrderNotFound),
    ("EARLY_CANCEL_DENIED", errors.CancelRefused),
    ("ERROR_SQL", errors.Unavailable),
]


@pytest.mark.parametrize("wrap", [None, "error", "message", "title"])
@pytest.mark.parametrize(("word", "expected"), ERROR_TABLE)
@pytest.mark.parametrize("call", ["buy", "check", "cancel", "balance"])
async def test_error_table(
    provider: SmsActivateProvider, fake: FakeSmsActivate, call: str, word: str, expected: type, wrap: str | None
) -> None:
    fake.json_errors = wrap
    fake.fail_next(word)
    if call == "buy" and expected is errors.Unavailable:
        expected = errors.UnclearResult  # ERROR_SQL is no refusal: on a paid call the outcome is unknown
    with pytest.raises(expected) as info:
        await _call(provider, call)
    assert type(info.value) is expected  # a known refusal word spent no money: never UnclearResult
    assert info.value.code == word.split(":")[0]
    assert KEY not in str(info.value)


def test_raise_for_word_first_then_status() -> None:
    parse.raise_for(200, "ACCESS_BALANCE:1.00")
    parse.raise_for(200, '{"0": {"wa": {"cost": 0.35, "count": 1}}}')
    with pytest.raises(errors.OutOfStock):
        parse.raise_for(503, "NO_NUMBERS")
    with pytest.raises(errors.Unauthorized):
        parse.raise_for(403, "Forbidden")
    with pytest.raises(errors.Unavailable):
        parse.raise_for(500, "")
    with pytest.raises(errors.BadResponse):
        parse.raise_for(200, '{"status": "error", "error": "SOMETHING_NEW"}')
    with pytest.raises(errors.BadResponse):
        parse.raise_for(302, "")
    with pytest.raises(errors.ProviderBalanceLow) as info:
        parse.raise_for(200, f"NO_BALANCE:{KEY}", secret=KEY, provider="p")
    assert KEY not in str(info.value) and info.value.provider == "p"


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_error_on_a_read_is_unavailable(
    provider: SmsActivateProvider, fake: FakeSmsActivate, status: int
) -> None:
    """Reads spend nothing: a 5xx stays a plain outage, and a known word in it still maps."""
    for call in ("offers", "check", "balance"):
        fake.html_next(status)
        with pytest.raises(errors.Unavailable) as info:
            await _call(provider, call)
        assert type(info.value) is errors.Unavailable
    fake.reply_next("NO_ACTIVATION", status=status)
    with pytest.raises(errors.OrderNotFound):
        await provider.check("1000001")


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize(
    "body", ["<html><title>502 Bad Gateway</title></html>", "", "NO_NUMBERS", '{"error": "NO_BALANCE"}', "ERROR_SQL"]
)
async def test_server_error_on_buy_is_unclear_whatever_the_body(
    provider: SmsActivateProvider, fake: FakeSmsActivate, status: int, body: str
) -> None:
    """A paid getNumber answered 5xx may have sold the number: never a "not sold" to fail over from,
    not even when the body carries a refusal word."""
    fake.reply_next(body, status=status)
    with pytest.raises(errors.UnclearResult) as info:
        await provider.buy(WA_RU)
    assert f"HTTP {status}" in str(info.value)
    assert fake.actions() == ["getNumber"]  # sent once, no setStatus for an unknown id


@pytest.mark.parametrize("status", [302, 400, 404])
async def test_unknown_non_2xx_on_buy_is_unclear(
    provider: SmsActivateProvider, fake: FakeSmsActivate, status: int
) -> None:
    """Only a known refusal is "not sold": a 3xx/4xx without a protocol word is not one (401/403 are)."""
    fake.html_next(status)
    with pytest.raises(errors.UnclearResult):
        await provider.buy(WA_RU)
    fake.reply_next("Forbidden", status=403)
    with pytest.raises(errors.Unauthorized) as info:
        await provider.buy(WA_RU)
    assert type(info.value) is errors.Unauthorized
    fake.reply_next("NO_NUMBERS", status=400)
    with pytest.raises(errors.OutOfStock):
        await provider.buy(WA_RU)


@pytest.mark.parametrize("arm", ["html_next", "empty_next", "unknown"])
@pytest.mark.parametrize("call", ["offers", "check", "cancel", "balance"])
async def test_unreadable_200_on_a_read_is_bad_response(
    provider: SmsActivateProvider, fake: FakeSmsActivate, call: str, arm: str
) -> None:
    fake.reply_next("SOMETHING_ELSE:1") if arm == "unknown" else getattr(fake, arm)(200)
    with pytest.raises(errors.BadResponse):
        await _call(provider, call)


@pytest.mark.parametrize("reply", ["<html>maintenance</html>", "", "ACCESS_NUMBER:12", "OK", '{"status": "error"}'])
@pytest.mark.parametrize("v2", [False, True])
async def test_unreadable_200_on_buy_is_unclear(fake: FakeSmsActivate, reply: str, v2: bool) -> None:
    """A 200 to getNumber may have bought the number: never a plain error to fail over from."""
    p = SmsActivateProvider(KEY, BASE, v2=v2, transport=fake)
    fake.reply_next(reply)
    with pytest.raises(errors.UnclearResult):
        await p.buy(WA_RU)
    assert len(fake.requests) == 1  # not retried, no setStatus for an unknown id
    await p.close()


async def test_key_in_the_query_never_reaches_errors_or_logs(
    provider: SmsActivateProvider, fake: FakeSmsActivate, caplog: pytest.LogCaptureFixture
) -> None:
    """The key rides in the query: a protocol word echoing it is scrubbed, and httpx's own request
    lines (full URLs, for successes too) are masked. The rest is in tests/test_adapter_contract.py."""
    caplog.set_level(logging.DEBUG)
    fake.reply_next(f"NO_NUMBERS:{KEY}")
    with pytest.raises(errors.OutOfStock) as out:
        await provider.buy(WA_RU)
    wrong = SmsActivateProvider(KEY + "x", BASE, transport=fake)
    with pytest.raises(errors.Unauthorized) as bad_key:
        await wrong.balance()
    await provider.balance()  # a success, logged by httpx itself with the full URL
    await wrong.close()
    assert all(KEY not in str(exc) and KEY not in repr(exc) for exc in (out.value, bad_key.value))
    assert "api_key=***" in caplog.text  # httpx's own request line was captured, masked
    assert KEY not in caplog.text


def _call(provider: SmsActivateProvider, call: str) -> Awaitable[object]:
    return adapter_call(provider, call, WA_RU, "1000001")


# -- getActiveActivations: every open activation in one call ------------------------------------------
async def test_active_lists_every_open_activation_as_check_reads_it(
    provider: SmsActivateProvider, fake: FakeSmsActivate
) -> None:
    waiting, received, retry, resend, cancelled = [(await provider.buy(WA_RU)).upstream_id for _ in range(5)]
    fake.deliver_code(received, "583920")
    fake.deliver_code(retry, "111222")
    await provider.another_code(retry)  # STATUS_WAIT_RETRY with the earlier code
    fake.activations[resend].state = "wait_resend"
    await provider.cancel(cancelled)
    count = len(fake.requests)
    listed = await provider.active()
    assert fake.actions()[count:] == ["getActiveActivations"]  # one call for all of them
    assert set(listed) == {waiting, received, retry, resend}  # the cancelled one is no longer listed
    for upstream_id, status in listed.items():  # the same SMS either way: same text, same (no) time
        assert status == await provider.check(upstream_id)
    assert listed[received] == Status(UpstreamState.RECEIVED, (Sms("Code: 583920", "583920"),))
    assert listed[waiting] == Status(UpstreamState.WAITING)
    fake.deliver_code(received, "999000")  # a second code: each as getStatus gave it when it was the newest
    assert (await provider.active())[received].sms == (Sms("Code: 583920", "583920"), Sms("Code: 999000", "999000"))
    assert (await provider.check(received)).sms[0] in (await provider.active())[received].sms


async def test_active_keeps_every_code_whichever_end_of_the_list_is_the_newest(
    provider: SmsActivateProvider, fake: FakeSmsActivate
) -> None:
    """The protocol does not say which end of ``smsCode`` is the newest: with either order, a second code
    is a new SMS (the listed order is not checked one by one, so a code dropped here would never arrive)."""
    for codes in (["111", "222"], ["222", "111"]):
        row = {"activationId": "5", "activationStatus": "4", "smsCode": codes}
        fake.reply_next(dumps({"status": "success", "activeActivations": [row]}))
        assert {sms.code for sms in (await provider.active())["5"].sms} == {"111", "222"}


@pytest.mark.parametrize(
    "reply",
    [
        "NO_ACTIVATIONS",
        '{"status": "error", "error": "NO_ACTIVATIONS"}',
        '{"status": "success", "activeActivations": []}',
    ],
)
async def test_active_with_nothing_open_is_empty(
    provider: SmsActivateProvider, fake: FakeSmsActivate, reply: str
) -> None:
    fake.reply_next(reply)
    assert await provider.active() == {}


@pytest.mark.parametrize("wrap", [None, "error"])
async def test_active_from_the_fake_with_nothing_open(
    provider: SmsActivateProvider, fake: FakeSmsActivate, wrap: str | None
) -> None:
    fake.json_errors = wrap
    assert await provider.active() == {}
    assert fake.requests[-1].params == {"api_key": "***", "action": "getActiveActivations"}


async def test_active_reads_variants(provider: SmsActivateProvider, fake: FakeSmsActivate) -> None:
    rows = {
        "7": {"activationId": 7, "activationStatus": "4", "smsCode": "1234", "smsText": "code 1234"},
        "8": {"activationId": "8", "activationStatus": "8", "smsCode": None},
        "9": {"id": "9", "activationStatus": "1", "smsCode": ["11", "22"]},
        "x": {"phoneNumber": "79000000000"},  # no id: left to getStatus
    }
    fake.reply_next(dumps({"status": "success", "activeActivations": rows}))
    assert await provider.active() == {
        "7": Status(UpstreamState.RECEIVED, (Sms("Code: 1234", "1234"),)),
        "8": Status(UpstreamState.CANCELLED),
        "9": Status(UpstreamState.RECEIVED, (Sms("Code: 11", "11"), Sms("Code: 22", "22"))),
    }


@pytest.mark.parametrize(
    ("reply", "status", "expected"),
    [
        ("<html><body>Bad gateway</body></html>", 200, errors.BadResponse),
        ("<html><body>Bad gateway</body></html>", 502, errors.Unavailable),
        ("", 200, errors.BadResponse),
        ('{"status": "success", "activeActivations": [', 200, errors.BadResponse),  # cut off mid-JSON
        ('{"status": "success"}', 200, errors.BadResponse),  # no list
        ('{"status": "error", "error": "SOMETHING_NEW"}', 200, errors.BadResponse),
        ("NO_ACTIVATIONS", 503, errors.Unavailable),  # the word in a server error is no empty answer
        ('{"error": "BAD_KEY", "message": "NO_ACTIVATIONS"}', 200, errors.Unauthorized),  # the error wins
        ("BAD_KEY", 200, errors.Unauthorized),
        ("ERROR_SQL", 200, errors.Unavailable),
        (f"SURPRISE:{KEY}", 200, errors.BadResponse),
    ],
)
async def test_active_failures_keep_the_usual_mapping(
    provider: SmsActivateProvider,
    fake: FakeSmsActivate,
    caplog: pytest.LogCaptureFixture,
    reply: str,
    status: int,
    expected: type,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.reply_next(reply, status=status)
    with pytest.raises(expected) as info:
        await provider.active()
    assert type(info.value) is expected
    assert KEY not in str(info.value) and KEY not in caplog.text
