"""Closing an order: the user's money and the upstream purchase's outcome in one transaction.

Also the registry of purchases and renewals this process has in flight at an upstream, which the
grace sweep leaves alone: an order is settled by the code that bought it, never behind its back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiosqlite

from storage import ledger, purchases
from storage import orders as order_rows
from storage.orders import Order, OrderStatus
from storage.purchases import Outcome, WriteOff

#: what the upstream purchase of a closed order ended in: (outcome, write-off reason or None)
Upstream = tuple[Outcome, WriteOff | None]
UPSTREAM_REFUNDED: Upstream = (Outcome.UPSTREAM_REFUNDED, None)
SOLD: Upstream = (Outcome.SOLD, None)


#: the statuses an order is expected in for a move to apply
Statuses = tuple[OrderStatus, ...]


def written_off(reason: WriteOff) -> Upstream:
    return (Outcome.WRITTEN_OFF, reason)


async def credit_back(conn: aiosqlite.Connection, order: Order, amount: int, reference: str) -> None:
    """Give the user ``amount`` back for ``order``: a ``refund`` ledger credit under ``<reference>:refund``."""
    await ledger.post(
        conn, user_id=order.user_id, amount=amount, kind="refund", reference=f"{reference}:refund", order_id=order.id
    )


async def refund(
    conn: aiosqlite.Connection,
    order_id: int,
    status: OrderStatus,
    expect: tuple[OrderStatus, ...],
    *,
    error: str | None = None,
    upstream: Upstream | None = None,
    **fields: object,
) -> Order | None:
    """Move the order to a refunded status, credit its price back, settle its purchase; None if it
    had moved on. ``fields``: more columns to set. The caller owns the transaction."""
    order = await order_rows.update(conn, order_id, expect=expect, status=status, error=error, **fields)
    if order is None:
        return None
    await credit_back(conn, order, order.price, f"order:{order_id}")
    if upstream is not None:
        await purchases.settle_order(conn, order_id, *upstream)
    return order


async def keep(
    conn: aiosqlite.Connection, order_id: int, status: OrderStatus, expect: Statuses, *, error: str | None = None
) -> Order | None:
    """Close a non-refundable order without a code: the user keeps no refund, the number is sold."""
    order = await order_rows.update(conn, order_id, expect=expect, status=status, error=error)
    if order is not None:
        await purchases.settle_order(conn, order_id, *SOLD)
    return order


async def record(
    conn: aiosqlite.Connection,
    order: Order,
    *,
    upstream_id: str | None,
    cost: int | None,
    currency: str | None,
    provider: str | None = None,
    kind: str = "number",
    reference: str | None = None,
    outcome: Upstream | None = None,
) -> None:
    """Record a purchase made for ``order`` (at its upstream unless ``provider`` says), settled at once
    when ``outcome`` is given. A purchase already recorded under its reference is left as it is."""
    made = await purchases.record(
        conn,
        order_id=order.id,
        user_id=order.user_id,
        provider=provider or order.provider,
        upstream_id=upstream_id,
        cost=cost,
        cost_currency=currency,
        kind=kind,
        reference=reference,
    )
    if made is not None and outcome is not None:
        await purchases.settle(conn, made.id, *outcome)


async def write_off_unclear(conn: aiosqlite.Connection, order: Order) -> None:
    """Record the purchase an unclear order may have made (never found upstream) as written off."""
    unclear = written_off(WriteOff.UNCLEAR)
    await record(conn, order, upstream_id=None, cost=order.cost, currency=order.cost_currency, outcome=unclear)


class Inflight:
    """Order ids (with the upstream being asked) and renewal references in flight in this process."""

    def __init__(self) -> None:
        self._orders: dict[int, str] = {}
        self._renewals: set[str] = set()
        self._starts: dict[str, int] = {}  # provider -> purchases ever started there

    def starts(self, provider: str) -> int:
        """How many purchases this process started at ``provider``: a lookup that saw this number change
        while it ran may have found one of them."""
        return self._starts.get(provider, 0)

    @contextmanager
    def buying(self, order_id: int, provider: str) -> Iterator[None]:
        self._orders[order_id] = provider
        self._starts[provider] = self.starts(provider) + 1
        try:
            yield
        finally:
            self._orders.pop(order_id, None)

    def at(self, order_id: int, provider: str) -> None:
        """The purchase moved on to another upstream (failover)."""
        if order_id in self._orders:
            self._orders[order_id] = provider
            self._starts[provider] = self.starts(provider) + 1

    def busy(self, order_id: int) -> bool:
        return order_id in self._orders

    def buying_at(self, provider: str) -> bool:
        return provider in self._orders.values()

    @contextmanager
    def renewing(self, reference: str) -> Iterator[None]:
        self._renewals.add(reference)
        try:
            yield
        finally:
            self._renewals.discard(reference)

    def renewal_busy(self, reference: str) -> bool:
        return reference in self._renewals

    def renewing_order(self, order_id: int) -> bool:
        """A renewal of this order is at the upstream now (references are ``order:<id>:renew:<nonce>``)."""
        return any(reference.startswith(f"order:{order_id}:renew:") for reference in self._renewals)
