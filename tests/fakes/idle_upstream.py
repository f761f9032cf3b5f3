"""An in-process upstream for tests and benchmarks that only sell: nothing ever happens to a number it sold.

Subclasses give ``name``, ``offers`` and ``buy``, and override what they are about (a slow ``check``, a
``renew``); the rest answers as an upstream with nothing to say would.
"""

from __future__ import annotations

from providers.base import Balance, Provider, Status, UpstreamState


class IdleUpstream(Provider):
    """Every number waits for its code for ever, a cancel always succeeds, the balance is nil."""

    balance_currency = "USD"

    async def check(self, upstream_id: str) -> Status:
        return Status(UpstreamState.WAITING)

    async def cancel(self, upstream_id: str) -> None:
        return None

    async def balance(self) -> Balance:
        return Balance(0, self.balance_currency)
