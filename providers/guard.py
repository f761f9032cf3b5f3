"""Per-upstream protection around an adapter: rate limit, retry-after, circuit breaker, read retries.

Only idempotent reads (offers, check, balance, lookup, active) are retried, once, after a short pause. A
paid call (``buy``, ``send_sms``) and the state-changing ones (cancel, finish, another code, renew) are sent once.

The upstream's rate budget is split in two limiters whose rates add up to it, so that reads never
starve a purchase: reads get ``rate x (1 - buy_share)``, the calls that spend or change state
``rate x buy_share``. Neither falls under :data:`MIN_RATE` (one call a minute) when the budget is tiny.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from aiolimiter import AsyncLimiter

from providers.base import Balance, Offer, Provider, Purchase, SentSms, Status
from providers.errors import BadResponse, ProviderError, RateLimited, Unauthorized, Unavailable, UnclearResult

logger = logging.getLogger(__name__)

T = TypeVar("T")
READ_RETRY_PAUSE = 0.3
#: the share of an upstream's rate budget kept for buys and other state changes, when none is given
DEFAULT_BUY_SHARE_PERCENT = 25
#: the least rate (calls per second) either limiter gets, however tiny the configured budget
MIN_RATE = 1 / 60
#: errors that say the upstream itself is unwell (business answers like OutOfStock do not)
HEALTH_ERRORS = (Unavailable, BadResponse, Unauthorized)

#: told of every request sent upstream (not of a call the guard refused): upstream, operation, seconds,
#: and the exception it raised or None; the composition root passes one in (the metrics)
CallObserver = Callable[[str, str, float, BaseException | None], None]


class BreakerState(enum.StrEnum):
    CLOSED = "closed"  # calls flow
    OPEN = "open"  # failing: calls are refused until the cool-down ends
    HALF_OPEN = "half_open"  # cool-down over: the next call is a trial


class Breaker:
    def __init__(self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self.opened_at >= self.cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def failure(self) -> bool:
        """Count a failure; True when this one opened the breaker."""
        self.failures += 1
        was_closed = self.opened_at is None
        if self.failures >= self.threshold or self.state is BreakerState.HALF_OPEN:
            self.opened_at = self.clock()
            return was_closed
        return False


def rate_limiter(rate: float) -> AsyncLimiter:
    """An AsyncLimiter allowing ``rate`` calls per second (at least :data:`MIN_RATE`); under one a second
    it allows one call per ``1 / rate`` seconds, since a limiter must admit a whole call per period."""
    rate = max(rate, MIN_RATE)
    return AsyncLimiter(rate, 1.0) if rate >= 1 else AsyncLimiter(1, 1 / rate)


class GuardedProvider(Provider):
    """Wraps an adapter with the same interface; the catalog and services only see these."""

    def __init__(
        self,
        inner: Provider,
        *,
        rate: float,
        failures: int,
        cooldown: float,
        buy_share_percent: int = DEFAULT_BUY_SHARE_PERCENT,
        observer: CallObserver | None = None,
    ) -> None:
        self.inner = inner
        self.observer = observer
        self.name = inner.name
        self.is_demo = inner.is_demo
        self.supports_another_code = inner.supports_another_code
        self.can_lookup = inner.can_lookup
        self.can_renew = inner.can_renew
        self.can_cancel = inner.can_cancel
        self.can_list_active = inner.can_list_active
        self.active_cost = inner.active_cost
        self.can_send_sms = inner.can_send_sms
        if not 0 < buy_share_percent < 100:
            raise ValueError("buy_share_percent must be between 1 and 99")
        self.rate, self.buy_share_percent, self.replicas = rate, buy_share_percent, 1
        self._limit(rate)
        self.breaker = Breaker(failures, cooldown)
        self.paused_until = 0.0
        self.last_error: str | None = None
        self.enabled = True

    def share(self, replicas: int) -> None:
        """The upstream's limits are per account: with ``replicas`` live replicas each keeps to its part of
        the rate (calls already waiting finish at the old one)."""
        replicas = max(replicas, 1)
        if replicas != self.replicas:
            self._limit(self.rate / replicas)
            self.replicas = replicas

    def _limit(self, rate: float) -> None:
        """Reads and buys at ``rate`` calls per second together, the buy share kept for buys."""
        self.read_limiter = rate_limiter(rate * (100 - self.buy_share_percent) / 100)
        self.write_limiter = rate_limiter(rate * self.buy_share_percent / 100)

    @property
    def read_rate(self) -> float:
        """Reads per second this upstream's budget allows (the poll job sizes its checks by it)."""
        return self.read_limiter.max_rate / self.read_limiter.time_period

    @property
    def healthy(self) -> bool:
        return self.enabled and self.breaker.state is not BreakerState.OPEN

    def _admit(self) -> None:
        """Refuse a call the operator, the breaker or the upstream's retry-after holds back."""
        if not self.enabled:
            raise Unavailable("disabled by the operator", provider=self.name)
        if self.breaker.state is BreakerState.OPEN:
            raise Unavailable("circuit open after repeated failures", provider=self.name)
        wait = self.paused_until - time.monotonic()
        if wait > 0:
            raise RateLimited("paused by the upstream's retry-after", provider=self.name, retry_after=wait)

    def _pause(self, exc: RateLimited) -> None:
        self.paused_until = time.monotonic() + (exc.retry_after or 1.0)

    async def _call(self, what: str, make: Callable[[], Awaitable[T]], *, read: bool = False) -> T:
        self._admit()
        for attempt in (1, 2):
            try:
                async with self.read_limiter if read else self.write_limiter:
                    result = await self._sent(what, make)
            except RateLimited as exc:
                self._pause(exc)
                self.last_error = str(exc)
                raise
            except HEALTH_ERRORS as exc:
                if read and attempt == 1 and not isinstance(exc, UnclearResult | Unauthorized):
                    await asyncio.sleep(READ_RETRY_PAUSE)
                    continue
                self.last_error = f"{what}: {exc}"
                if self.breaker.failure():
                    logger.warning("%s: circuit opened after %d failures: %s", self.name, self.breaker.failures, exc)
                raise
            except ProviderError:
                self.breaker.success()  # a business answer: the upstream is up
                raise
            if self.breaker.failures or self.breaker.opened_at is not None:
                logger.info("%s: answering again", self.name)
            self.breaker.success()
            return result
        raise AssertionError("unreachable")

    async def _sent(self, what: str, make: Callable[[], Awaitable[T]]) -> T:
        """One request upstream, timed for the observer (the limiter's wait is not part of it)."""
        if self.observer is None:
            return await make()
        started = time.perf_counter()
        try:
            result = await make()
        except Exception as exc:
            self._observe(what, time.perf_counter() - started, exc)
            raise
        self._observe(what, time.perf_counter() - started, None)
        return result

    def _observe(self, what: str, seconds: float, error: BaseException | None) -> None:
        """Tell the observer, which must never change the call's outcome: a failing observer after a paid
        ``buy`` would lose the sale's result, or replace the upstream's own error (UnclearResult ...)."""
        assert self.observer is not None
        try:
            self.observer(self.name, what, seconds, error)
        except Exception:
            logger.warning("%s: the call observer failed on %s", self.name, what, exc_info=True)

    async def offers(self, country: str | None = None) -> list[Offer]:
        return await self._call("offers", lambda: self.inner.offers(country), read=True)

    async def buy(self, offer: Offer) -> Purchase:
        return await self._call("buy", lambda: self.inner.buy(offer))

    async def check(self, upstream_id: str) -> Status:
        return await self._call("check", lambda: self.inner.check(upstream_id), read=True)

    async def cancel(self, upstream_id: str) -> None:
        await self._call("cancel", lambda: self.inner.cancel(upstream_id))

    async def finish(self, upstream_id: str) -> None:
        await self._call("finish", lambda: self.inner.finish(upstream_id))

    async def balance(self) -> Balance:
        return await self._call("balance", self.inner.balance, read=True)

    async def another_code(self, upstream_id: str) -> None:
        await self._call("another_code", lambda: self.inner.another_code(upstream_id))

    async def lookup(self, offer: Offer, since: datetime) -> Purchase | None:
        return await self._call("lookup", lambda: self.inner.lookup(offer, since), read=True)

    async def renew(self, upstream_id: str, days: int) -> datetime | None:
        return await self._call("renew", lambda: self.inner.renew(upstream_id, days))

    async def send_sms(self, phone: str, to: str, text: str) -> SentSms:
        return await self._call("send_sms", lambda: self.inner.send_sms(phone, to, text))

    async def active(self) -> dict[str, Status]:
        """The bulk read, outside the breaker: it is an optimisation the poll job falls back from, so its
        failure (a clone that lacks the action, an answer shaped unlike the document's) must not refuse
        buys and per-order checks at an upstream that answers those. Its requests (``active_cost``) come
        out of the read budget; a 429 still pauses the upstream."""
        self._admit()
        for _ in range(self.active_cost - 1):
            await self.read_limiter.acquire()
        try:
            async with self.read_limiter:
                return await self._sent("active", self.inner.active)
        except RateLimited as exc:
            self._pause(exc)
            raise

    async def close(self) -> None:
        await self.inner.close()
