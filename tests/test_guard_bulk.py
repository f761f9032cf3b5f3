"""The guard's bulk read (``active``): outside the breaker, paid for from the read budget, paused by a 429."""

from __future__ import annotations

import pytest

from providers.errors import BadResponse, RateLimited
from providers.guard import BreakerState
from tests.test_guard import OFFER, Counting, Flaky, guarded


async def test_a_failing_bulk_read_never_opens_the_circuit_nor_refuses_buys() -> None:
    """The bulk read is an optimisation the poll job falls back from: an upstream that answers buys and
    per-order checks but not the list (a clone without the action) stays healthy."""
    inner = Flaky()
    guard = guarded(inner, failures=2)
    inner.script = [BadResponse("no such action", provider="flaky")] * 5
    for _ in range(5):
        with pytest.raises(BadResponse):
            await guard.active()
    assert guard.breaker.state is BreakerState.CLOSED and guard.last_error is None and guard.healthy
    await guard.buy(OFFER)
    await guard.check("1")
    assert inner.calls == ["active"] * 5 + ["buy", "check"]  # and no retry of the list either


async def test_a_bulk_read_takes_every_request_it_may_send_from_the_read_budget() -> None:
    inner = Flaky()
    inner.active_cost = 4
    guard = guarded(inner)
    guard.read_limiter, guard.write_limiter = reads, writes = Counting(), Counting()
    await guard.active()
    assert (reads.admitted, writes.admitted) == (4, 0)
    assert guard.active_cost == 4


async def test_a_429_on_the_bulk_read_still_pauses_the_upstream() -> None:
    inner = Flaky()
    guard = guarded(inner)
    inner.script = [RateLimited("slow down", provider="flaky", retry_after=30)]
    with pytest.raises(RateLimited):
        await guard.active()
    with pytest.raises(RateLimited):
        await guard.buy(OFFER)
    assert inner.calls == ["active"]
