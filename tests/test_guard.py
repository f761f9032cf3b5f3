"""The guard around each upstream: breaker, retry-after, read retries, no retry of a paid call."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiolimiter import AsyncLimiter

from providers.base import Balance, Offer, Provider, Purchase, Status, UpstreamState
from providers.errors import BadResponse, OutOfStock, RateLimited, Unavailable, UnclearResult
from providers.guard import MIN_RATE, Breaker, BreakerState, GuardedProvider

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

    async def lookup(self, offer: Offer, since: datetime) -> Purchase | None:
        self._next("lookup")
        return None

    async def active(self) -> dict[str, Status]:
        self._next("active")
        return {}

    async def another_code(self, upstream_id: str) -> None:
        self._next("another_code")

    async def finish(self, upstream_id: str) -> None:
        self._next("finish")

    async def renew(self, upstream_id: str, days: int) -> datetime | None:
        self._next("renew")
        return None


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


# -- the rate budget: reads and buys each have their own share ---------------------------------------
async def drain(limiter: AsyncLimiter) -> None:
    """Use up a limiter's capacity, as a burst of reads would: the next acquire must wait."""
    while limiter.has_capacity():
        await limiter.acquire()


@pytest.mark.parametrize(("rate", "share", "reads", "writes"), [(20, 25, 15, 5), (5, 25, 3.75, 1.25), (10, 90, 1, 9)])
def test_reads_and_writes_split_the_configured_rate(rate: float, share: int, reads: float, writes: float) -> None:
    guard = GuardedProvider(Flaky(), rate=rate, failures=1, cooldown=1, buy_share_percent=share)
    assert guard.read_limiter is not guard.write_limiter
    per_second = [lim.max_rate / lim.time_period for lim in (guard.read_limiter, guard.write_limiter)]
    assert per_second == pytest.approx([reads, writes])
    assert sum(per_second) == pytest.approx(rate)
    assert guard.read_rate == pytest.approx(reads)


def test_a_tiny_rate_keeps_a_usable_limiter_on_both_sides() -> None:
    guard = GuardedProvider(Flaky(), rate=0.4, failures=1, cooldown=1)  # 0.3 reads/s, 0.1 writes/s
    for lim, rate in ((guard.read_limiter, 0.3), (guard.write_limiter, 0.1)):
        assert lim.max_rate >= 1  # one whole call fits in a period
        assert lim.max_rate / lim.time_period == pytest.approx(rate)
    floor = GuardedProvider(Flaky(), rate=0.001, failures=1, cooldown=1)
    assert min(floor.read_rate, floor.write_limiter.max_rate / floor.write_limiter.time_period) == MIN_RATE
    with pytest.raises(ValueError):
        GuardedProvider(Flaky(), rate=1, failures=1, cooldown=1, buy_share_percent=100)


async def test_a_buy_is_not_held_back_by_drained_reads() -> None:
    inner = Flaky()
    guard = GuardedProvider(inner, rate=0.04, failures=1, cooldown=1)  # a read every ~33 s once drained
    await drain(guard.read_limiter)
    check = asyncio.create_task(guard.check("1"))
    buy = asyncio.create_task(guard.buy(OFFER))
    for _ in range(5):  # a few passes of the loop, no timer: only a call with capacity at hand can finish
        await asyncio.sleep(0)
    assert buy.done() and (await buy).upstream_id == "1"
    assert not check.done() and inner.calls == ["buy"]
    check.cancel()
    with pytest.raises(asyncio.CancelledError):
        await check


class Counting(AsyncLimiter):
    """A roomy limiter that counts the calls it admits."""

    def __init__(self) -> None:
        super().__init__(1000, 1)
        self.admitted = 0

    async def acquire(self, amount: float = 1) -> None:
        self.admitted += 1
        await super().acquire(amount)


async def test_reads_use_the_read_limiter_and_changes_the_write_one() -> None:
    inner = Flaky()
    guard = guarded(inner)
    guard.read_limiter, guard.write_limiter = reads, writes = Counting(), Counting()
    await guard.offers()
    await guard.check("1")
    await guard.balance()
    await guard.lookup(OFFER, datetime.now(UTC))
    await guard.active()
    assert (reads.admitted, writes.admitted) == (5, 0)
    await guard.buy(OFFER)
    await guard.cancel("1")
    await guard.finish("1")
    await guard.another_code("1")
    await guard.renew("1", 7)
    assert (reads.admitted, writes.admitted) == (5, 5)
    assert inner.calls == [
        "offers",
        "check",
        "balance",
        "lookup",
        "active",
        "buy",
        "cancel",
        "finish",
        "another_code",
        "renew",
    ]


def failing_observer(upstream: str, operation: str, seconds: float, error: BaseException | None) -> None:
    raise RuntimeError("metrics broke")


async def test_a_failing_observer_changes_no_outcome(caplog: pytest.LogCaptureFixture) -> None:
    inner = Flaky()
    guard = GuardedProvider(inner, rate=1000, failures=2, cooldown=60, observer=failing_observer)
    assert (await guard.buy(OFFER)).upstream_id == "1"  # the paid sale's result is kept
    inner.script = [UnclearResult("timeout after sending")]
    with pytest.raises(UnclearResult):  # the upstream's own error, not the observer's
        await guard.buy(OFFER)
    assert inner.calls == ["buy", "buy"]
    assert caplog.text.count("the call observer failed on buy") == 2
