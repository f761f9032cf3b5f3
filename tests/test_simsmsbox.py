"""SimSmsBoxProvider against the in-memory fake built from the SimSmsBox document."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from providers import errors
from providers.base import Offer, Status, UpstreamState
from providers.simsmsbox import client as simsmsbox
from providers.simsmsbox import mine
from providers.simsmsbox.client import SimSmsBoxProvider
from providers.simsmsbox.parse import raise_for
from tests.adapter_fixtures import adapter_fixtures
from tests.fakes.simsmsbox import FakeItem, FakeSimSmsBox

KEY = "psk_live_SECRET_0123456789"
OFFER = Offer("simsmsbox", "instagram", "US", 35, "USD", 5, "instagram|physical")


fake, provider = adapter_fixtures(FakeSimSmsBox, SimSmsBoxProvider, KEY)


def _one_off(offers: list[Offer]) -> dict[tuple[str, str], Offer]:
    return {(o.service, o.country): o for o in offers if o.rent_days is None}


# -- offers ----------------------------------------------------------------------------------------
async def test_offers_cheapest_in_stock_per_service_and_country(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox
) -> None:
    offers = await provider.offers()
    one_off = _one_off(offers)
    assert set(one_off) == {("instagram", "US"), ("whatsapp", "US"), ("google", "US"), ("instagram", "GB")}
    ig = one_off[("instagram", "US")]  # 0.20 virtual is sold out, 0.35 physical beats 0.50
    assert (ig.cost, ig.currency, ig.stock, ig.product_id) == (35, "USD", 5, "instagram|physical")
    wa = one_off[("whatsapp", "US")]  # upstream code "wa" kept for buy, slug for the catalog
    assert (wa.cost, wa.stock, wa.product_id) == (150, 3, "wa|physical")
    assert one_off[("google", "US")].product_id == "google|virtual"
    assert one_off[("instagram", "GB")].cost == 60
    assert all(o.provider == "simsmsbox" for o in offers)
    paths = [r.path for r in fake.requests]
    assert paths[:2] == ["/api/sms/shop/countries", "/api/sms/shop/number-types"]
    markets = sorted((r.params["country"], r.params["cardKind"]) for r in fake.requests[2:])
    assert markets == [("GB", "physical"), ("GB", "virtual"), ("US", "physical"), ("US", "virtual")]
    assert all(r.headers["x-api-key"] == "***" for r in fake.requests)


async def test_offers_rentals_priced_per_day(provider: SimSmsBoxProvider) -> None:
    offers = [o for o in await provider.offers("US") if (o.service, o.country) == ("instagram", "US")]
    assert sorted((o.rent_days or 1, o.cost) for o in offers) == [(1, 35), (7, 245), (30, 1050)]
    assert {o.product_id for o in offers} == {"instagram|physical"}


async def test_offers_one_country_queries_its_market_only(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    offers = await provider.offers("gb")
    assert {(o.service, o.country) for o in offers} == {("instagram", "GB")} and len(offers) == 3
    assert {r.params.get("country") for r in fake.requests[2:]} == {"GB"}
    assert await provider.offers("ZZ") == []


async def test_offers_market_concurrency_is_bounded(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    fake.countries = [{"code": c, "name": c} for c in ("US", "GB", "DE", "FR", "IT", "ES")]
    fake.latency = 0.01
    await provider.offers()
    assert len([r for r in fake.requests if r.path.endswith("/market")]) == 12
    assert fake.max_in_flight == 4


async def test_offers_skip_a_failing_market_but_not_all(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    fake.market[("GB", "virtual")] = [FakeItem("google", "Google", Decimal("0.40"), 7)]
    fake.respond_next(httpx.Response(200, json={"data": [{"countryCode": "GB", "name": "United Kingdom"}]}))
    fake.respond_next(httpx.Response(200, json=["physical", "virtual"]))
    fake.html_next(502)  # GB/physical fails, GB/virtual answers
    offers = await provider.offers()
    assert {(o.service, o.country, o.cost, o.product_id) for o in offers if o.rent_days is None} == {
        ("google", "GB", 40, "google|virtual")
    }
    fake.respond_next(httpx.Response(200, json={"items": [{"iso": "gb"}]}))
    fake.respond_next(httpx.Response(200, json={"data": [{"value": "physical"}]}))
    fake.html_next(502)
    with pytest.raises(errors.Unavailable):
        await provider.offers()


async def test_offers_read_variants_and_skip_garbage(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    items = [
        {"service": "wa", "price": "0.35", "stock": "2"},  # no currency -> USD, string numbers
        {"serviceName": "Telegram", "price": 1, "currency": "eur"},  # no stock published
        {"service": "vk", "price": "free", "stock": 3},  # unreadable price: skipped
        {"service": "ok", "price": "0.10", "stock": 0},  # sold out: skipped
        "junk",
    ]
    fake.respond_next(httpx.Response(200, json=[{"code": "DE", "name": "Germany"}]))
    fake.respond_next(httpx.Response(200, json=[{"code": "physical"}]))
    fake.respond_next(httpx.Response(200, json={"data": {"items": items}}))
    one_off = _one_off(await provider.offers())
    assert set(one_off) == {("whatsapp", "DE"), ("telegram", "DE")}
    assert (one_off[("whatsapp", "DE")].cost, one_off[("whatsapp", "DE")].stock) == (35, 2)
    tg = one_off[("telegram", "DE")]
    assert (tg.cost, tg.currency, tg.stock, tg.product_id) == (100, "EUR", None, "Telegram|physical")


# -- buy -------------------------------------------------------------------------------------------
async def test_buy_sends_market_codes_and_parses_order(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    purchase = await provider.buy(OFFER)
    (order,) = fake.orders.values()
    assert purchase.upstream_id == str(order.id)  # the bare order id: the binding key is not kept
    assert purchase.phone == order.phone
    assert purchase.expires_at == order.expire_at and purchase.expires_at.tzinfo is not None
    assert purchase.cost == 35  # 0.35 as a JSON number, read as Decimal
    assert fake.requests[-1].method == "POST" and fake.requests[-1].path == "/api/sms/orders/purchase"
    assert fake.requests[-1].json == {"service": "instagram", "country": "US", "cardKind": "physical", "rentDays": 1}
    assert fake.market[("US", "physical")][1].stock == 4
    assert fake.balance == Decimal("9.65")


async def test_buy_rental_sends_rent_days(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    wa = Offer("simsmsbox", "whatsapp", "US", 4500, "USD", 3, "wa|physical", rent_days=30)
    fake.balance = Decimal("100")
    purchase = await provider.buy(wa)
    assert fake.requests[-1].json == {"service": "wa", "country": "US", "cardKind": "physical", "rentDays": 30}
    assert purchase.cost == 4500
    assert purchase.expires_at is not None and purchase.expires_at - datetime.now(UTC) > timedelta(days=29)


@pytest.mark.parametrize(
    ("answer", "upstream_id", "phone"),
    [
        ({"id": 5, "number": "+15550001", "apiBindingKey": "k5"}, "5", "+15550001"),
        ({"data": {"order_id": "6", "phoneNumber": "+15550002", "api_binding_key": "k6"}}, "6", "+15550002"),
        ({"orderId": 7, "phone_number": 15550003, "expireAt": "2026-03-21 20:15:00"}, "7", "15550003"),
    ],
)
async def test_buy_accepts_field_variants(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox, answer: dict, upstream_id: str, phone: str
) -> None:
    fake.respond_next(httpx.Response(200, json=answer))
    purchase = await provider.buy(OFFER)
    assert (purchase.upstream_id, purchase.phone, purchase.cost) == (upstream_id, phone, None)
    if "expireAt" in answer:
        assert purchase.expires_at == datetime(2026, 3, 21, 20, 15, tzinfo=UTC)
    fake.respond_next(httpx.Response(200, json={"status": "active"}))
    assert (await provider.check(purchase.upstream_id)).state is UpstreamState.WAITING
    assert (fake.requests[-1].path, fake.requests[-1].params) == (f"/api/sms/orders/{upstream_id}", {})


@pytest.mark.parametrize(
    "offer",
    [
        Offer("simsmsbox", "instagram", "US", 35, "USD", 5),  # no product_id
        Offer("simsmsbox", "instagram", "US", 35, "USD", 5, "instagram"),  # no card kind
        Offer("simsmsbox", "instagram", "US", 35, "USD", 5, "instagram|physical", rent_days=31),
    ],
)
async def test_buy_rejects_unusable_offer_without_a_request(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox, offer: Offer
) -> None:
    with pytest.raises(errors.InvalidRequest):
        await provider.buy(offer)
    assert fake.requests == []


async def test_buy_real_errors_from_fake_state(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    with pytest.raises(errors.OutOfStock):  # telegram is listed with stock 0
        await provider.buy(Offer("simsmsbox", "telegram", "US", 80, "USD", 0, "telegram|physical"))
    fake.balance = Decimal("0.10")
    with pytest.raises(errors.ProviderBalanceLow):
        await provider.buy(OFFER)


# -- check -----------------------------------------------------------------------------------------
async def test_check_gives_the_real_sms_text_with_latest_code(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    purchase = await provider.buy(OFFER)
    order = fake.orders[int(purchase.upstream_id)]
    status = await provider.check(purchase.upstream_id)
    assert status.state is UpstreamState.WAITING and status.sms == ()
    assert status.expires_at == order.expire_at
    assert [r.path for r in fake.requests[1:]] == [f"/api/sms/orders/{order.id}"]  # no code: one call only
    assert fake.requests[-1].headers["x-api-key"] == "***"  # the order endpoint is authenticated

    fake.deliver_code(order.id, "123456", text="Your Instagram code is 123456. Don't share it.")
    status = await provider.check(purchase.upstream_id)
    assert status.state is UpstreamState.RECEIVED
    assert [(s.text, s.code, s.sender) for s in status.sms] == [
        ("Your Instagram code is 123456. Don't share it.", "123456", "WhatsApp")
    ]
    assert status.sms[0].received_at is not None and status.sms[0].received_at.tzinfo is not None
    assert (fake.requests[-1].path, fake.requests[-1].params) == (
        "/api/sms/orders/messages",
        {"page": "1", "pageSize": "20"},
    )
    assert not any("Code: " in s.text for s in status.sms)  # no made-up text when the real one is there

    fake.deliver_code(order.id, "654321", text="654321 is your Instagram code")  # a rental gets more codes
    status = await provider.check(purchase.upstream_id)
    assert [s.text for s in status.sms] == [
        "Your Instagram code is 123456. Don't share it.",
        "654321 is your Instagram code",
    ]
    assert status.sms[-1].code == "654321"  # latestCode is the newest message's code
    assert "/api/sms/record" not in {r.path for r in fake.requests}


async def test_check_keeps_only_this_orders_messages(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    mine, other = await provider.buy(OFFER), await provider.buy(OFFER)
    fake.deliver_code(int(other.upstream_id), "111111", text="other order: 111111")
    fake.deliver_code(int(mine.upstream_id), "222222", text="mine: 222222")
    fake.deliver_code(int(other.upstream_id), "333333", text="other order: 333333")
    assert [s.text for s in (await provider.check(mine.upstream_id)).sms] == ["mine: 222222"]
    assert [s.code for s in (await provider.check(other.upstream_id)).sms] == [None, "333333"]


async def test_check_messages_without_an_order_id_match_by_phone_and_time(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox
) -> None:
    purchase = await provider.buy(OFFER)
    order = fake.orders[int(purchase.upstream_id)]
    order.codes.append("424242")
    created = order.created_at
    items = [  # newest first, as assumed
        {
            "phone": order.phone.lstrip("+"),
            "text": "Code 424242",
            "received_at": (created + timedelta(minutes=2)).isoformat(),
        },
        {
            "phone": "+19998887777",
            "text": "someone else 424242",
            "received_at": (created + timedelta(minutes=1)).isoformat(),
        },
        {
            "phone": order.phone,
            "text": "a former renter's SMS",
            "received_at": (created - timedelta(days=1)).isoformat(),
        },
        {"orderId": 999, "phone": order.phone, "text": "names another order", "received_at": created.isoformat()},
        {"phone": order.phone, "text": "", "received_at": created.isoformat()},
    ]
    fake.messages_answer = httpx.Response(200, json={"data": {"list": items}})
    status = await provider.check(purchase.upstream_id)
    assert [(s.text, s.code) for s in status.sms] == [("Code 424242", "424242")]


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(502, text="<html>bad gateway</html>"),
        httpx.Response(500, json={"code": "INTERNAL", "message": "oops"}),
        httpx.Response(200, json={"data": {"total": 0}}),  # no list
        httpx.Response(404, json={"code": "NOT_FOUND", "message": "no such endpoint"}),
        httpx.Response(200, json={"data": {"items": []}}),  # read, but its message is not (yet) there
    ],
)
async def test_check_falls_back_to_the_latest_code(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox, answer: httpx.Response, caplog: pytest.LogCaptureFixture
) -> None:
    """The code is never withheld: without a readable message for it, ``Code: <latestCode>`` stands in."""
    purchase = await provider.buy(OFFER)
    fake.deliver_code(int(purchase.upstream_id), "778899")
    fake.messages_answer = answer
    status = await provider.check(purchase.upstream_id)
    assert status.state is UpstreamState.RECEIVED
    assert [(s.text, s.code) for s in status.sms] == [("Code: 778899", "778899")]
    assert fake.requests[-1].path == "/api/sms/orders/messages"


async def test_check_messages_429_is_raised(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    purchase = await provider.buy(OFFER)
    fake.deliver_code(int(purchase.upstream_id), "778899")
    fake.messages_answer = httpx.Response(429, json={"code": "TOO_MANY_REQUESTS"}, headers={"Retry-After": "9"})
    with pytest.raises(errors.RateLimited) as info:  # the guard must pause the upstream, not be kept unaware
        await provider.check(purchase.upstream_id)
    assert info.value.retry_after == 9.0


async def test_check_expiry_follows_a_renewal(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    purchase = await provider.buy(OFFER)
    order = fake.orders[int(purchase.upstream_id)]
    assert (await provider.check(purchase.upstream_id)).expires_at == order.expire_at == purchase.expires_at
    fake.balance = Decimal("100")
    await provider.renew(purchase.upstream_id, 7)
    status = await provider.check(purchase.upstream_id)
    assert purchase.expires_at is not None and status.expires_at == purchase.expires_at + timedelta(days=7)


async def test_fresh_provider_reads_the_same(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    """Nothing is kept in memory: after a restart check() gives the same texts."""
    purchase = await provider.buy(OFFER)
    fake.deliver_code(int(purchase.upstream_id), "445566")
    restarted = SimSmsBoxProvider(KEY, transport=fake)
    try:
        assert await restarted.check(purchase.upstream_id) == await provider.check(purchase.upstream_id)
    finally:
        await restarted.close()


@pytest.mark.parametrize(
    ("word", "code", "state"),
    [
        ("active", None, UpstreamState.WAITING),
        ("Pending", None, UpstreamState.WAITING),
        ("waiting", "1234", UpstreamState.RECEIVED),
        ("received", "1234", UpstreamState.RECEIVED),
        ("success", "1234", UpstreamState.RECEIVED),
        ("completed", "1234", UpstreamState.FINISHED),
        ("expired", None, UpstreamState.EXPIRED),
        ("cancelled", None, UpstreamState.CANCELLED),
        ("refunded", None, UpstreamState.CANCELLED),
    ],
)
async def test_check_order_status_words(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox, word: str, code: str | None, state: UpstreamState
) -> None:
    answer = {"orderId": 3, "status": word, "latestCode": code, "expireAt": "2030-01-02T03:04:05Z"}
    fake.respond_next(httpx.Response(200, json=answer))
    status = await provider.check("3")
    assert status.state is state
    assert [s.code for s in status.sms] == ([code] if code else [])
    assert status.expires_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


async def test_check_unknown_status_is_waiting_with_warning(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox, caplog: pytest.LogCaptureFixture
) -> None:
    fake.respond_next(httpx.Response(200, json={"data": {"status": "frozen"}}))
    status = await provider.check("3")
    assert status.state is UpstreamState.WAITING and status.expires_at is None
    assert "frozen" in caplog.text


@pytest.mark.parametrize("answer", [{"message": "order is being processed"}, {"data": {"message": "later"}}, {}])
async def test_check_answer_naming_no_order_is_bad(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox, answer: dict
) -> None:
    """A 200 without the order's fields is not an order "waiting": it is an answer we cannot read."""
    fake.respond_next(httpx.Response(200, json=answer))
    with pytest.raises(errors.BadResponse):
        await provider.check("19")


async def test_check_unknown_order(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    with pytest.raises(errors.OrderNotFound):
        await provider.check("999")


async def test_binding_key_never_kept_nor_logged(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    purchase = await provider.buy(OFFER)
    binding_key = fake.orders[int(purchase.upstream_id)].binding_key
    fake.deliver_code(int(purchase.upstream_id), "101010")
    status = await provider.check(purchase.upstream_id)
    found = await provider.lookup(OFFER, datetime.now(UTC) - timedelta(minutes=1))
    await provider.cancel(purchase.upstream_id)
    assert found is not None
    assert binding_key not in repr((purchase, status, found, vars(provider)))
    assert binding_key not in caplog.text and KEY not in caplog.text
    assert "/api/sms/record" not in {r.path for r in fake.requests}


# -- rentals: another code, renew, lookup, cancel, balance -------------------------------------------
async def test_capabilities_and_another_code_noop(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    assert (provider.supports_another_code, provider.can_renew, provider.can_lookup) == (True, True, True)
    assert await provider.another_code("19") is None
    assert fake.requests == []


async def test_renew_extends_expiry(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    purchase = await provider.buy(OFFER)
    order = fake.orders[int(purchase.upstream_id)]
    new_expiry = await provider.renew(purchase.upstream_id, 7)
    assert new_expiry == order.expire_at == purchase.expires_at + timedelta(days=7)
    assert fake.requests[-1].path == f"/api/sms/orders/{order.id}/renew"
    assert fake.requests[-1].json == {"days": 7}
    assert fake.balance == Decimal("10.00") - Decimal("0.35") * 8
    fake.respond_next(httpx.Response(200, json={"ok": True}))
    assert await provider.renew(purchase.upstream_id, 1) is None


async def test_renew_failures(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    with pytest.raises(errors.OrderNotFound):
        await provider.renew("404", 7)
    fake.raise_next(httpx.ReadTimeout("t"))
    with pytest.raises(errors.UnclearResult):  # renew spends money
        await provider.renew("19", 7)
    with pytest.raises(errors.InvalidRequest):
        await provider.renew("19", 0)


@pytest.mark.parametrize("answer", [{"message": "renewal submitted"}, {"data": {}}, {"message": "ok?", "code": 1}])
async def test_renew_answer_not_saying_it_renewed_is_unclear(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox, answer: dict
) -> None:
    """The money may or may not be spent: never read as renewed, never as refused."""
    purchase = await provider.buy(OFFER)
    fake.respond_next(httpx.Response(200, json=answer))
    with pytest.raises(errors.UnclearResult):
        await provider.renew(purchase.upstream_id, 7)
    assert fake.requests[-1].path.endswith("/renew")


@pytest.mark.parametrize(
    "answer", [{"code": 0, "message": "renewed"}, {"success": True}, {"data": {"expireAt": "2030-01-02T03:04:05Z"}}]
)
async def test_renew_answers_that_say_so_are_renewals(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox, answer: dict
) -> None:
    fake.respond_next(httpx.Response(200, json=answer))
    expected = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC) if "data" in answer else None
    assert await provider.renew("19", 7) == expected


async def test_lookup_finds_newest_matching_order(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    await provider.buy(Offer("simsmsbox", "whatsapp", "US", 150, "USD", 3, "wa|physical"))
    older = await provider.buy(OFFER)
    newer = await provider.buy(OFFER)
    fake.orders[int(older.upstream_id)].created_at -= timedelta(seconds=2)
    found = await provider.lookup(OFFER, since)
    assert found is not None and found.upstream_id == str(max(fake.orders))
    assert (found.upstream_id, found.phone, found.expires_at) == (newer.upstream_id, newer.phone, newer.expires_at)
    assert fake.requests[-1].path == "/api/sms/orders/mine"
    assert fake.requests[-1].params == {"page": "1", "pageSize": "20"}
    assert await provider.lookup(OFFER, datetime.now(UTC) + timedelta(minutes=1)) is None
    assert (
        await provider.lookup(Offer("simsmsbox", "instagram", "GB", 60, "USD", 1, "instagram|physical"), since) is None
    )


async def test_binding_key_never_in_upstream_id(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    bought = await provider.buy(OFFER)
    order = fake.orders[int(bought.upstream_id)]
    restarted = SimSmsBoxProvider(KEY, transport=fake)  # lookup after a restart, as the bot recovers a buy
    try:
        found = await restarted.lookup(OFFER, datetime.now(UTC) - timedelta(minutes=1))
        assert found is not None
        await restarted.check(found.upstream_id)
    finally:
        await restarted.close()
    assert fake.requests[-2].path == "/api/sms/orders/mine"
    for purchase in (bought, found):
        assert purchase.upstream_id == str(order.id)
        assert order.binding_key not in purchase.upstream_id and order.binding_key not in repr(purchase)
    assert fake.requests[-1].path == f"/api/sms/orders/{order.id}"


async def test_lookup_accepts_variants(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    items = [{"id": 8, "number": "+1555", "service": "Instagram", "country": "us", "created_at": 1893456000000}]
    fake.respond_next(httpx.Response(200, json={"data": {"list": items}}))
    found = await provider.lookup(OFFER, datetime(2029, 12, 31))  # naive since is UTC; createdAt in ms
    assert found is not None and (found.upstream_id, found.phone) == ("8", "+1555")


async def test_cancel_is_a_documented_noop(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    purchase = await provider.buy(OFFER)
    count = len(fake.requests)
    assert await provider.cancel(purchase.upstream_id) is None
    assert len(fake.requests) == count  # no invented endpoint
    doc = " ".join((simsmsbox.__doc__ or "").split())
    assert "No cancel endpoint is documented" in doc and "lapses at its expiry" in doc


@pytest.mark.parametrize(
    ("answer", "amount", "currency"),
    [
        ({"balance": "0.35"}, 35, "USD"),
        ({"data": {"balance": 12, "currency": "eur"}}, 1200, "EUR"),
        ({"code": 0, "balance": 0, "data": {"balance": "5"}}, 0, "USD"),
    ],
)
async def test_balance_variants(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox, answer: dict, amount: int, currency: str
) -> None:
    fake.respond_next(httpx.Response(200, json=answer))
    balance = await provider.balance()
    assert (balance.amount, balance.currency) == (amount, currency)


async def test_balance_from_fake(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    balance = await provider.balance()
    assert (balance.amount, balance.currency) == (1000, "USD")
    assert fake.requests[-1].path == "/api/sms/wallet/balance"
    fake.respond_next(httpx.Response(200, json={"data": {"frozenAmount": 1}}))
    with pytest.raises(errors.BadResponse):
        await provider.balance()


# -- errors ----------------------------------------------------------------------------------------
# (HTTP status, code or None for an {"error": message} body, message, expected)
ERROR_TABLE = [
    (400, "NO_AVAILABLE_PLATFORM", "no available platform", errors.OutOfStock),
    (400, None, "No Available Platform for instagram", errors.OutOfStock),
    (200, None, "no available platform", errors.OutOfStock),  # an error inside a 2xx
    (401, "UNAUTHORIZED", "invalid api key", errors.Unauthorized),
    (403, "FORBIDDEN", "key revoked", errors.Unauthorized),
    (402, "PAYMENT_REQUIRED", "top up", errors.ProviderBalanceLow),
    (400, "INSUFFICIENT_BALANCE", "Insufficient balance", errors.ProviderBalanceLow),
    (400, None, "wallet BALANCE too low", errors.ProviderBalanceLow),
    (404, "NOT_FOUND", "order not found", errors.OrderNotFound),
    (429, "TOO_MANY_REQUESTS", "slow down", errors.RateLimited),
    (400, "BAD_REQUEST", "rentDays must be between 1 and 30", errors.InvalidRequest),
    (500, "INTERNAL", "oops", errors.Unavailable),
    (503, None, "maintenance", errors.Unavailable),
    (502, "NO_AVAILABLE_PLATFORM", "no available platform", errors.OutOfStock),  # word first, on reads
    (418, "TEAPOT", "short and stout", errors.BadResponse),
]


@pytest.mark.parametrize(("status", "code", "message", "expected"), ERROR_TABLE)
@pytest.mark.parametrize("call", ["buy", "renew"])
async def test_error_table_on_paid_calls(
    provider: SimSmsBoxProvider,
    fake: FakeSimSmsBox,
    status: int,
    code: str | None,
    message: str,
    expected: type,
    call: str,
) -> None:
    """Purchase and renew spend money: only a known refusal below 500 is "not sold"; the rest is unclear."""
    fake.fail_next(status, code, message=f"{message} (key {KEY})")  # an upstream echoing the key
    if status >= 500 or expected is errors.BadResponse:
        expected = errors.UnclearResult
    with pytest.raises(expected) as info:
        await (provider.buy(OFFER) if call == "buy" else provider.renew("19", 7))
    assert type(info.value) is expected  # a refusal is not a subclass such as UnclearResult
    assert KEY not in str(info.value)
    assert len(fake.requests) == 1


@pytest.mark.parametrize("body", [{"code": 500, "message": "db down"}, {"success": False, "code": 503}])
async def test_server_error_code_inside_a_200_on_buy_is_unclear(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox, body: dict
) -> None:
    fake.respond_next(httpx.Response(200, json=body))
    with pytest.raises(errors.UnclearResult):
        await provider.buy(OFFER)
    fake.respond_next(httpx.Response(200, json=body))
    with pytest.raises(errors.Unavailable) as info:  # spends nothing: a plain outage
        await provider.balance()
    assert type(info.value) is errors.Unavailable


@pytest.mark.parametrize(("status", "code", "message", "expected"), ERROR_TABLE)
async def test_error_table_on_reads(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox, status: int, code: str | None, message: str, expected: type
) -> None:
    for call in (lambda: provider.check("19"), provider.balance, provider.offers):
        fake.fail_next(status, code, message=message)
        with pytest.raises(expected):
            await call()


def test_raise_for_shapes() -> None:
    raise_for(200, {"code": 0, "data": {}})
    raise_for(200, [1, 2])
    raise_for(200, {"code": 200, "success": True})
    with pytest.raises(errors.ProviderBalanceLow):
        raise_for(200, {"code": 402, "message": "pay up"})  # an HTTP-like code in a 2xx body
    with pytest.raises(errors.OutOfStock):
        raise_for(200, {"success": False, "error": {"code": "no_available_platform"}})
    with pytest.raises(errors.BadResponse):
        raise_for(200, {"success": False})
    with pytest.raises(errors.Unauthorized):
        raise_for(401, "not an object")
    with pytest.raises(errors.OrderNotFound) as info:
        raise_for(404, {"message": "no order for SECRET"}, secret="SECRET")
    assert "SECRET" not in str(info.value) and "***" in str(info.value)


async def test_wrong_shapes(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    fake.respond_next(httpx.Response(200, json={"orderId": 5}))
    with pytest.raises(errors.UnclearResult):  # a success without a phone
        await provider.buy(OFFER)
    fake.respond_next(httpx.Response(200, json={"countries": "US"}))
    with pytest.raises(errors.BadResponse):
        await provider.offers()
    fake.respond_next(httpx.Response(200, json=["not", "an", "order"]))
    with pytest.raises(errors.BadResponse):
        await provider.check("19")


# -- active(): my orders, page by page, each read as check() reads it ---------------------------------
def _paths(fake: FakeSimSmsBox, since: int) -> list[tuple[str, dict[str, str]]]:
    return [(r.path, r.params) for r in fake.requests[since:]]


async def test_active_reads_every_order_as_check_does(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    waiting, once, twice = [(await provider.buy(OFFER)).upstream_id for _ in range(3)]
    fake.deliver_code(int(once), "123456", text="Your Instagram code is 123456.")
    fake.deliver_code(int(twice), "111111", text="first: 111111")
    fake.deliver_code(int(twice), "222222", text="second: 222222")
    count = len(fake.requests)
    listed = await provider.active()
    assert provider.can_list_active
    assert _paths(fake, count) == [  # one page of orders, one read of the messages for all of them
        ("/api/sms/orders/mine", {"page": "1", "pageSize": "100"}),
        ("/api/sms/orders/messages", {"page": "1", "pageSize": "20"}),
    ]
    assert set(listed) == {waiting, once, twice}
    for upstream_id, status in listed.items():  # the same SMS either way: same text, same received_at
        assert status == await provider.check(upstream_id)
    assert listed[waiting].state is UpstreamState.WAITING and listed[waiting].sms == ()
    assert [s.text for s in listed[twice].sms] == ["first: 111111", "second: 222222"]
    assert listed[once].expires_at == fake.orders[int(once)].expire_at


async def test_active_with_nothing_open(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    assert await provider.active() == {}
    assert _paths(fake, 0) == [("/api/sms/orders/mine", {"page": "1", "pageSize": "100"})]  # no messages read
    fake.respond_next(httpx.Response(200, json={"code": 0, "data": {"items": [], "total": 0}}))
    assert await provider.active() == {}
    purchase = await provider.buy(OFFER)
    count = len(fake.requests)
    assert await provider.active() == {purchase.upstream_id: await provider.check(purchase.upstream_id)}
    assert [p for p, _ in _paths(fake, count)] == ["/api/sms/orders/mine", f"/api/sms/orders/{purchase.upstream_id}"]


async def test_active_walks_every_page(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mine, "PAGE_SIZE", 2)
    bought = {(await provider.buy(OFFER)).upstream_id for _ in range(5)}
    count = len(fake.requests)
    assert set(await provider.active()) == bought
    pages = [(p["page"], p["pageSize"]) for path, p in _paths(fake, count) if path.endswith("/mine")]
    assert pages == [("1", "2"), ("2", "2"), ("3", "2")]  # stops at the total: no empty fourth page


def _mine_page(ids: range, total: int | None = None) -> httpx.Response:
    items = [{"orderId": n, "phone": f"+1555{n}", "status": "active", "latestCode": None} for n in ids]
    data: dict[str, object] = {"list": items} if total is None else {"list": items, "totalCount": total}
    return httpx.Response(200, json={"code": 0, "data": data})


async def test_active_pages_without_a_total(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    """No total: a page shorter than the first ends the listing; a server capping the page size still
    pages right; one ignoring ``page`` (the same orders again) ends it too."""
    for answer in (_mine_page(range(1, 51)), _mine_page(range(51, 101)), _mine_page(range(101, 121))):
        fake.respond_next(answer)
    assert set(await provider.active()) == {str(n) for n in range(1, 121)}
    assert len(fake.requests) == 3
    fake.respond_next(_mine_page(range(1, 101)))
    fake.respond_next(_mine_page(range(1, 101)))
    assert len(await provider.active()) == 100 and len(fake.requests) == 5


async def test_active_stops_at_the_page_cap(
    provider: SimSmsBoxProvider,
    fake: FakeSimSmsBox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(mine, "MAX_PAGES", 2)
    monkeypatch.setattr(mine, "_told", [])
    for start in (1, 101, 201):
        fake.respond_next(_mine_page(range(start, start + 100), total=1000))
    assert len(await provider.active()) == 200  # the rest are left to per-order checks
    assert len(fake.requests) == 2 and "past 2 pages" in caplog.text
    caplog.clear()
    for start in (1, 101):
        fake.respond_next(_mine_page(range(start, start + 100), total=1000))
    assert len(await provider.active()) == 200
    assert "past 2 pages" not in caplog.text  # told once, not on every poll run


def test_a_bulk_read_is_charged_for_every_request_it_may_send() -> None:
    assert SimSmsBoxProvider.active_cost == mine.MAX_PAGES + 1  # the pages and the messages read


async def test_active_leaves_out_orders_it_cannot_read_whole(provider: SimSmsBoxProvider, fake: FakeSimSmsBox) -> None:
    items = [
        {"orderId": 1, "status": "active", "latestCode": None},
        {"id": "2", "status": "expired", "latestCode": None, "expireAt": "2030-01-02T03:04:05Z"},
        {"orderId": 3, "status": "received"},  # no latestCode key: a summary that may hide a code
        {"orderId": 4, "latestCode": "1234"},  # no status
        {"status": "active", "latestCode": None},  # no id
        "junk",
    ]
    fake.respond_next(httpx.Response(200, json={"data": {"items": items, "total": 6}}))
    listed = await provider.active()
    assert set(listed) == {"1", "2"}
    assert listed["2"] == Status(UpstreamState.EXPIRED, (), datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))


async def test_active_messages_unreadable_falls_back_as_check_does(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox
) -> None:
    purchase = await provider.buy(OFFER)
    fake.deliver_code(int(purchase.upstream_id), "778899")
    fake.messages_answer = httpx.Response(502, text="<html>bad gateway</html>")
    listed = await provider.active()
    assert listed == {purchase.upstream_id: await provider.check(purchase.upstream_id)}
    assert [(s.text, s.code) for s in listed[purchase.upstream_id].sms] == [("Code: 778899", "778899")]
    fake.messages_answer = httpx.Response(429, json={"code": "TOO_MANY_REQUESTS"}, headers={"Retry-After": "9"})
    with pytest.raises(errors.RateLimited):  # the guard must pause, not be kept unaware
        await provider.active()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(200, text="<html>maintenance</html>"), errors.BadResponse),
        (httpx.Response(200, text='{"code": 0, "data": {"items": ['), errors.BadResponse),  # cut off
        (httpx.Response(200, json={"message": f"key {KEY} is throttled"}), errors.BadResponse),  # no list
        (httpx.Response(502, text="<html>bad gateway</html>"), errors.Unavailable),
        (httpx.Response(500, json={"code": "INTERNAL", "message": f"oops {KEY}"}), errors.Unavailable),
        (httpx.Response(401, json={"code": "UNAUTHORIZED", "message": "invalid api key"}), errors.Unauthorized),
    ],
)
@pytest.mark.parametrize("on_page", [1, 2])
async def test_active_failures_keep_the_usual_mapping(
    provider: SimSmsBoxProvider,
    fake: FakeSimSmsBox,
    caplog: pytest.LogCaptureFixture,
    answer: httpx.Response,
    expected: type,
    on_page: int,
) -> None:
    """A failing page fails the whole read (never a partial list passed off as complete)."""
    caplog.set_level(logging.DEBUG)
    if on_page == 2:
        fake.respond_next(_mine_page(range(1, 101), total=150))
    fake.respond_next(answer)
    with pytest.raises(expected) as info:
        await provider.active()
    assert type(info.value) is expected
    assert KEY not in str(info.value) and KEY not in caplog.text


async def test_an_unknown_status_in_a_bulk_read_is_warned_about_once(
    provider: SimSmsBoxProvider, fake: FakeSimSmsBox, caplog: pytest.LogCaptureFixture
) -> None:
    """Every item of every run's list carries the status: an unknown word is said once, not per item per run."""
    items = [{"orderId": n, "status": "frobnicated", "latestCode": None} for n in range(1, 6)]
    for _ in range(2):
        fake.respond_next(httpx.Response(200, json={"code": 0, "data": {"list": items, "totalCount": 5}}))
        listed = await provider.active()
        assert {s.state for s in listed.values()} == {UpstreamState.WAITING}
    assert caplog.text.count("unknown order status 'frobnicated'") == 1
