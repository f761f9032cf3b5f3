"""smscartesim's ``POST /messages`` (a user's reply by SMS from a rented number) and rental offers.

The transport, 429, 5xx-is-unclear and key-scrubbing rules of this paid call are in
``tests/test_adapter_contract.py`` (``send_sms`` is among smscartesim's paid calls there).
"""

from __future__ import annotations

import httpx
import pytest

from providers import errors
from providers.base import Offer
from providers.smscartesim.client import SmsCartesimProvider
from tests.adapter_fixtures import adapter_fixtures
from tests.fakes.smscartesim import FakeSmsCartesim, dumps

KEY = "sk_live_CARTE_MSG_SECRET_0123456789"
RENTAL = Offer("smscartesim", "whatsapp", "US", 350, "USD", 12, product_id="wa|us", rent_days=7)

fake, provider = adapter_fixtures(FakeSmsCartesim, SmsCartesimProvider, KEY)


async def _rented(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> str:
    fake.rentals[("wa", "us")] = 7
    return (await provider.buy(RENTAL)).phone


async def test_a_rental_item_is_a_rental_offer(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    fake.rentals[("wa", "us")] = 7
    offers = {(o.service, o.country): o for o in await provider.offers()}
    assert offers["whatsapp", "US"].rent_days == 7 and offers["telegram", "US"].rent_days is None
    assert provider.can_send_sms


async def test_send_posts_the_documented_fields(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    phone = await _rented(provider, fake)
    sent = await provider.send_sms(phone, "+12025550100", "Hi there")
    assert sent.upstream_id == "msg_1"
    request = fake.requests[-1]
    assert (request.method, request.path) == ("POST", "/messages")
    assert request.json == {"from_sender": phone, "to_number": "+12025550100", "message": "Hi there", "type": "sms"}
    assert fake.messages[0]["to"] == "+12025550100"


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("not_ours", errors.InvalidRequest),  # 404: the sender is not one of our numbers
        ("bad_number", errors.InvalidRequest),  # 422 invalid_number
        ("poor", errors.ProviderBalanceLow),  # 402
    ],
)
async def test_documented_refusals(
    provider: SmsCartesimProvider, fake: FakeSmsCartesim, setup: str, expected: type[errors.ProviderError]
) -> None:
    phone = await _rented(provider, fake)
    to = "+12025550100"
    if setup == "not_ours":
        phone = "+19990000000"
    elif setup == "bad_number":
        to = "WhatsApp"
    else:
        fake.balance = fake.sms_price / 2
    with pytest.raises(expected) as info:
        await provider.send_sms(phone, to, "Hi")
    assert type(info.value) is expected and not fake.messages


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text=dumps({"result": "queued"})),  # neither a success nor a message id
        httpx.Response(200, text=dumps({"status": "error", "message": "gateway hiccup"})),
        httpx.Response(418, text=dumps({"status": "error", "message": "teapot"})),
    ],
)
async def test_an_answer_it_cannot_place_is_unclear(
    provider: SmsCartesimProvider, fake: FakeSmsCartesim, answer: httpx.Response
) -> None:
    fake.respond_next(answer)
    with pytest.raises(errors.UnclearResult):
        await provider.send_sms("+12025551001", "+12025550100", "Hi")
    assert len(fake.requests) == 1  # never re-sent


async def test_a_success_without_an_id_is_sent(provider: SmsCartesimProvider, fake: FakeSmsCartesim) -> None:
    fake.respond_next(httpx.Response(200, text=dumps({"status": "success", "message": "Message sent."})))
    assert (await provider.send_sms("+12025551001", "+12025550100", "Hi")).upstream_id is None
