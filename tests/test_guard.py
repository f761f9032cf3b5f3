"""The guard around each upstream: breaker, retry-after, read retries, no retry of a paid call."""

from __future__ import annotations

import pytest

from providers.base import Balance, Offer, Provider, Purchase, Status, UpstreamState
from providers.errors import BadResponse, OutOfStock, RateLimited, Unavailable, UnclearResult
from providers.guard import Breaker, BreakerState, GuardedProvider

OFFER = Offer("flaky", "whatsapp", "US", 10, "USD", 1)


class Flaky(Provider):
    name = "flaky"

    def __init__(self) -> None:
        self.script: list[Exception | None] = []
        self.calls: list[str] = []

    def _next(self, what: str) -> None:
        self.calls.append(what)
        step = self.script.pop(0) if self.script else None
        if step is not None:
            raise step

    async def offers(self, country: str | None = None) -> list[Offer]:
        self._next("offers")
        return [OFFER]

    async def buy(self, offer: Offer) -> Purchase:
        self._next("buy")
        return Purchase("1", "+1555")

    async def check(self, upstream_id: str) -> Status:
        self._next("check")
        return Status(UpstreamState.WAITING)

    async def cancel(self, upstream_id: str) -> None:
        self._next("cancel")

    async def balance(self) -> Balance:
        self._next("balance")
        return Balance(1, "USD")


def guarded(inner: Flaky, failures: int = 2, cooldown: float = 60) -> GuardedProvider:
    return GuardedProvider(inner, rate=1000, failures=failures, cooldown=cooldown)


def test_breaker_opens_after_threshold_and_half_opens_after_cooldown() -> None:
    now = [0.0]
    breaker = Breaker(failures=2, cooldown=10, clock=lambda: now[0])
    assert not breaker.failure() and breaker.state is BreakerState.CLOSED
    assert breaker.failure() and breaker.state is BreakerState.OPEN
    now[0] = 10
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.failure()  # the trial failed: open again
    assert breaker.state is BreakerState.OPEN
    now[0] = 20
    breaker.success()
    assert breaker.state is BreakerState.CLOSED


async def test_reads_are_retried_once() -> None:
    inner = Flaky()
    inner.script = [Unavailable("blip")]
    assert (await guarded(inner).check("1")).state is UpstreamState.WAITING
    assert inner.calls == ["check", "check"]


async def test_a_paid_buy_is_never_retried() -> None:
    inner = Flaky()
    inner.script = [UnclearResult("timeout after sending")]
    with pytest.raises(UnclearResult):
        await guarded(inner).buy(OFFER)
    assert inner.calls == ["buy"]


async def test_repeated_failures_open_the_circuit_and_refuse_fast() -> None:
    inner = Flaky()
    guard = guarded(inner, failures=2)
    inner.script = [BadResponse("html"), BadResponse("html"), BadResponse("html"), BadResponse("html")]
    for _ in range(2):
        with pytest.raises(BadResponse):
            await guard.offers()
    assert not guard.healthy and guard.last_error and "html" in guard.last_error
    calls = len(inner.calls)
    with pytest.raises(Unavailable, match="circuit open"):
        await guard.buy(OFFER)
    assert len(inner.calls) == calls  # not even sent


async def test_business_errors_do_not_count_as_failures() -> None:
    inner = Flaky()
    guard = guarded(inner, failures=1)
    inner.script = [OutOfStock("none")]
    with pytest.raises(OutOfStock):
        await guard.buy(OFFER)
    assert guard.healthy


async def test_retry_after_pauses_the_upstream() -> None:
    inner = Flaky()
    guard = guarded(inner)
    inner.script = [RateLimited("slow down", retry_after=30)]
    with pytest.raises(RateLimited):
        await guard.buy(OFFER)
    with pytest.raises(RateLimited) as info:
        await guard.check("1")
    assert info.value.retry_after and 29 < info.value.retry_after <= 30
    assert inner.calls == ["buy"]


async def test_disabled_upstream_is_not_called() -> None:
    inner = Flaky()
    guard = guarded(inner)
    guard.enabled = False
    with pytest.raises(Unavailable):
        await guard.offers()
    assert inner.calls == [] and not guard.healthy
