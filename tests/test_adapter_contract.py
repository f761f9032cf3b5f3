"""The contract every HTTP adapter keeps, run against each adapter's fake (:mod:`tests.fakes.upstream`).

Transport failures are Unavailable, or UnclearResult once a paid request may have left us; a 429 is
RateLimited with its ``Retry-After``; a paid request answered 5xx (any body) or unreadably is
UnclearResult, sent once and never retried, never "not sold"; reads keep the plain mapping; the API
key appears in no exception and no log line. Upstream-specific behaviour stays in the adapter's own tests.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from providers import errors
from providers.base import Offer
from providers.http import HttpProvider
from providers.ismscode.client import ISMSCodeProvider
from providers.simsmsbox.client import SimSmsBoxProvider
from providers.smsactivate.client import SmsActivateProvider
from providers.smscartesim.client import SmsCartesimProvider
from providers.smscode.client import SMSCodeProvider
from providers.smsx.client import SmsxProvider
from tests.adapter_fixtures import adapter_call
from tests.fakes.ismscode import FakeISMSCode
from tests.fakes.simsmsbox import FakeSimSmsBox
from tests.fakes.smsactivate import FakeSmsActivate
from tests.fakes.smscartesim import FakeSmsCartesim
from tests.fakes.smscode import FakeSMSCode
from tests.fakes.smsx import FakeSmsx
from tests.fakes.upstream import FakeUpstream

KEY = "sk_live_CONTRACT_SECRET_0123456789"


EVERY_READ = ("offers", "check", "cancel", "balance")
NO_CANCEL = ("offers", "check", "balance")  # cancel is a local no-op there: it sends nothing
LISTS = ("active",)  # the bulk status read, where the upstream has one (``can_list_active``)


@dataclass(frozen=True)
class Adapter:
    """One adapter over its fake: what it buys, which calls spend money and which only read."""

    provider: Callable[..., HttpProvider]
    fake: Callable[..., FakeUpstream]
    upstream_id: str
    offer: Offer
    reads: tuple[str, ...] = EVERY_READ
    paid: tuple[str, ...] = ("buy",)
    args: tuple[str, ...] = ()  # the adapter's arguments between the key and ``transport``

    def build(self, fake: FakeUpstream, key: str = KEY) -> HttpProvider:
        return self.provider(key, *self.args, transport=fake)


ADAPTERS = {
    "smsactivate": Adapter(SmsActivateProvider, FakeSmsActivate, "1000001", args=("https://sms.example",),
                           reads=EVERY_READ + LISTS,
                           offer=Offer("smsactivate", "whatsapp", "RU", 35, "USD", 120, "wa|0")),
    "simsmsbox": Adapter(SimSmsBoxProvider, FakeSimSmsBox, "19", reads=NO_CANCEL + LISTS, paid=("buy", "renew"),
                         offer=Offer("simsmsbox", "instagram", "US", 35, "USD", 5, "instagram|physical")),
    "smscode": Adapter(SMSCodeProvider, FakeSMSCode, "ord_000001",
                       offer=Offer("smscode", "whatsapp", "ID", 3500, "IDR", 5, "42")),
    "smsx": Adapter(SmsxProvider, FakeSmsx, "5000001", offer=Offer("smsx", "telegram", "IN", 35, "USD", 120, "tg|22")),
    "smscartesim": Adapter(SmsCartesimProvider, FakeSmsCartesim, "1001", reads=NO_CANCEL + LISTS,
                           paid=("buy", "send_sms"),
                           offer=Offer("smscartesim", "whatsapp", "US", 35, "USD", 12, "wa|us")),
    "ismscode": Adapter(ISMSCodeProvider, FakeISMSCode, "num_000001", reads=("offers", "check"),
                        offer=Offer("ismscode", "whatsapp", "US", None, "USD", None)),
}  # fmt: skip
READS = [(name, call) for name, adapter in ADAPTERS.items() for call in adapter.reads]
PAID = [(name, call) for name, adapter in ADAPTERS.items() for call in adapter.paid]


@dataclass
class Wired:
    adapter: Adapter
    fake: FakeUpstream
    provider: HttpProvider

    def call(self, name: str) -> Awaitable[object]:
        """One adapter call by name, with the spec's offer and upstream id."""
        return adapter_call(self.provider, name, self.adapter.offer, self.adapter.upstream_id)


@pytest.fixture
async def wire() -> AsyncIterator[Callable[..., Wired]]:
    opened: list[HttpProvider] = []

    def build(name: str, key: str = KEY) -> Wired:
        adapter = ADAPTERS[name]
        fake = adapter.fake(api_key=KEY)
        opened.append(provider := adapter.build(fake, key))
        return Wired(adapter, fake, provider)

    yield build
    for provider in opened:
        await provider.close()


async def raised(awaitable: Awaitable[object], expected: type[errors.ProviderError]) -> errors.ProviderError:
    """The error ``awaitable`` raised: exactly ``expected`` (a refusal is no UnclearResult), key-free."""
    with pytest.raises(expected) as info:
        await awaitable
    assert type(info.value) is expected
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert not isinstance(info.value.__cause__, httpx.HTTPError)  # it holds the URL, whose query may hold a key
    return info.value


def unchained(error: errors.ProviderError) -> None:
    """A transport failure's error drops httpx's exception (it holds the URL, whose query may hold a
    key): no cause, and the context it was raised in is suppressed from tracebacks."""
    assert error.__cause__ is None and error.__suppress_context__


NOT_SENT = [httpx.ConnectError("refused"), httpx.ConnectTimeout("t"), httpx.PoolTimeout("t")]
MAYBE_SENT = [
    httpx.ReadTimeout("t"),
    httpx.WriteTimeout("t"),
    httpx.ReadError("reset"),
    httpx.RemoteProtocolError("closed"),
]


@pytest.mark.parametrize("name", ADAPTERS)
async def test_every_adapter_that_lists_is_held_to_the_contract(wire, name: str) -> None:
    """An adapter with a bulk status read has it among its reads here, and one without says so."""
    wired = wire(name)
    assert wired.provider.can_list_active == ("active" in wired.adapter.reads)
    if not wired.provider.can_list_active:
        with pytest.raises(NotImplementedError):
            await wired.provider.active()


@pytest.mark.parametrize("exc", NOT_SENT + MAYBE_SENT, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize(("name", "call"), READS)
async def test_transport_failure_on_a_read_is_unavailable(wire, name: str, call: str, exc: Exception) -> None:
    wired = wire(name)
    wired.fake.raise_next(exc)
    unchained(await raised(wired.call(call), errors.Unavailable))


@pytest.mark.parametrize("exc", NOT_SENT + MAYBE_SENT, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize(("name", "call"), PAID)
async def test_transport_failure_on_a_paid_call(wire, name: str, call: str, exc: Exception) -> None:
    """Never sent: a plain outage. Maybe sent (a timeout or reset after sending): unclear, never re-sent."""
    wired = wire(name)
    wired.fake.raise_next(exc)
    unchained(await raised(wired.call(call), errors.Unavailable if exc in NOT_SENT else errors.UnclearResult))
    assert len(wired.fake.requests) == 1 and not wired.fake.sold()  # not re-sent: nothing bought behind it


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("1.5", 1.5), (None, None), ("soon", None)])
@pytest.mark.parametrize("shape", ["html", "upstream"])
@pytest.mark.parametrize(("name", "call"), PAID + READS)
async def test_429_is_rate_limited_with_retry_after(
    wire, name: str, call: str, shape: str, header: str | None, expected: float | None
) -> None:
    wired = wire(name)
    headers = {"Retry-After": header} if header else None
    if shape == "html":
        wired.fake.respond_next(httpx.Response(429, text="<html>slow down</html>", headers=headers))
    else:
        wired.fake.respond_next(wired.fake.refusal(429, "Too many requests", headers))
    error = await raised(wired.call(call), errors.RateLimited)
    assert isinstance(error, errors.RateLimited) and error.retry_after == expected


@pytest.mark.parametrize("body", ["html", "empty", "refusal"])
@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize(("name", "call"), PAID)
async def test_5xx_on_a_paid_call_is_unclear_whatever_the_body(
    wire, name: str, call: str, status: int, body: str
) -> None:
    """An error page may follow a completed sale: never a "not sold" to fail over from, not even when
    the body reads like a refusal; sent once."""
    wired = wire(name)
    if body == "html":
        wired.fake.html_next(status)
    elif body == "empty":
        wired.fake.empty_next(status)
    else:
        wired.fake.respond_next(wired.fake.refusal(status, "no numbers available"))
    await raised(wired.call(call), errors.UnclearResult)
    assert len(wired.fake.requests) == 1 and not wired.fake.sold()  # not re-sent: nothing bought behind it


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize(("name", "call"), READS)
async def test_5xx_page_on_a_read_is_unavailable(wire, name: str, call: str, status: int) -> None:
    wired = wire(name)
    wired.fake.html_next(status)
    await raised(wired.call(call), errors.Unavailable)


@pytest.mark.parametrize("arm", ["html_next", "empty_next"])
@pytest.mark.parametrize(("name", "call"), READS + PAID)
async def test_unreadable_200(wire, name: str, call: str, arm: str) -> None:
    """A read that cannot be understood is BadResponse; a paid one may have bought: unclear."""
    wired = wire(name)
    getattr(wired.fake, arm)(200)
    await raised(wired.call(call), errors.UnclearResult if call in wired.adapter.paid else errors.BadResponse)


@pytest.mark.parametrize("call", ["offers", "buy"])
@pytest.mark.parametrize("name", ADAPTERS)
async def test_a_200_answer_echoing_the_key_is_bad_and_key_free(wire, name: str, call: str) -> None:
    """A 200 in the upstream's error format (for sms-activate: an unknown reply word) that echoes the
    key: a BadResponse on a read (unclear when paid) whose message has the key scrubbed."""
    wired = wire(name)
    wired.fake.respond_next(wired.fake.refusal(200, f"Unexpected: {KEY}"))
    await raised(wired.call(call), errors.UnclearResult if call in wired.adapter.paid else errors.BadResponse)


@pytest.mark.parametrize(("name", "call"), READS + PAID)
async def test_a_wrong_key_is_refused(wire, name: str, call: str) -> None:
    """The fake checks the key as its upstream does: a wrong one is Unauthorized, a refusal even when paid."""
    await raised(wire(name, key="wrong-key").call(call), errors.Unauthorized)


@pytest.mark.parametrize("name", ADAPTERS)
async def test_key_never_in_errors_or_logs(wire, name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wired = wire(name)
    arms: list[Callable[[], None]] = [
        lambda: wired.fake.raise_next(httpx.ConnectError(f"refused for https://x.example/?api_key={KEY}")),
        lambda: wired.fake.raise_next(httpx.ReadTimeout(f"timed out, key {KEY}")),
        wired.fake.html_next,
        wired.fake.empty_next,
        lambda: wired.fake.respond_next(wired.fake.refusal(401, f"key {KEY} revoked")),
        lambda: wired.fake.respond_next(wired.fake.refusal(400, f"{KEY} is not allowed")),
        lambda: wired.fake.respond_next(wired.fake.refusal(429, f"slow down, {KEY}")),
    ]
    seen: list[errors.ProviderError] = []
    calls = (*wired.adapter.paid, wired.adapter.reads[0], *(c for c in LISTS if c in wired.adapter.reads))
    for arm in arms:
        for call in calls:
            arm()
            with pytest.raises(errors.ProviderError) as info:
                await wired.call(call)
            seen.append(info.value)
    assert len(seen) == len(arms) * len(calls) >= len(arms) * (len(wired.adapter.paid) + 1)
    assert all(KEY not in str(exc) and KEY not in repr(exc) and KEY not in str(exc.code) for exc in seen)
    assert KEY not in caplog.text
