"""What the services tell people, as data: the output port ``handlers/notifier.py`` implements.

Services never build a sentence. They hand an order, a payment or an :data:`Alert` to
:class:`Notifications`; the Telegram side renders it in the reader's language (texts in
``handlers/texts/alerts.py``) and sends it. ``bot/app.py`` injects the implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from storage.orders import Order
from storage.payments import Payment


@dataclass(frozen=True, slots=True)
class LowBalance:
    """An upstream's balance fell under the alert threshold."""

    upstream: str
    balance: int | None  # minor units of ``currency`` (converted from the upstream's); None when unknown now
    threshold: int  # minor units of ``currency``
    currency: str  # the bot's


@dataclass(frozen=True, slots=True)
class UpstreamFailing:
    """An upstream's breaker opened: it is out of routing."""

    upstream: str
    error: str | None


@dataclass(frozen=True, slots=True)
class UnclearRefund:
    """An order whose purchase stayed unclear was refunded: the upstream may hold a number without an order."""

    order: Order


@dataclass(frozen=True, slots=True)
class DatabaseUnusable:
    """The database file was deleted or replaced: no order and no money until it is put back."""

    problem: str


@dataclass(frozen=True, slots=True)
class PollOverrun:
    """A poll run did not fit its interval (it took longer, or left due checks over the read budget for
    later runs): codes reach users late. Told once until runs fit again."""

    orders: int  # open orders waiting for SMS
    checks: int  # per-order status checks made
    bulk_calls: int  # bulk reads of every open order at an upstream
    deferred: int  # per-order checks due but left for later runs
    seconds: float  # how long the run took
    interval: float  # the poll interval it had to fit in


@dataclass(frozen=True, slots=True)
class HandlerErrors:
    """Updates failed in handlers more often than ERROR_ALERT_THRESHOLD within :attr:`minutes`. Told once
    until the rate falls under the threshold again."""

    count: int
    minutes: int


@dataclass(frozen=True, slots=True)
class BackupFailed:
    """A scheduled backup could not be written, or the copy failed its check (integrity, balances)."""

    path: str
    problem: str


@dataclass(frozen=True, slots=True)
class TelegramUnreachable:
    """The Bot API has not answered for :attr:`seconds`. Told once until it answers again (and only once
    it does: the alert itself travels through Telegram)."""

    seconds: int
    error: str


@dataclass(frozen=True, slots=True)
class PollLagging:
    """The last poll run finished :attr:`seconds` ago, more than 3 intervals: no code is being fetched."""

    seconds: int
    interval: float


Alert = (
    LowBalance
    | UpstreamFailing
    | UnclearRefund
    | DatabaseUnusable
    | PollOverrun
    | HandlerErrors
    | BackupFailed
    | TelegramUnreachable
    | PollLagging
)


class Notifications(Protocol):
    async def deliver(self, order: Order) -> None:
        """Send the order's new SMS and refresh its card; safe to call repeatedly."""

    async def alert(self, alert: Alert) -> bool:
        """Tell every admin, once each. True when that is settled: at least one admin got it, or every one
        refused it for good (403: blocked the bot, 400: no such chat), or there is none. False when nobody
        got it for a reason that may pass (network, 429, 5xx): an alert told once per episode is then sent
        again at the next check instead of being lost."""

    async def send_receipt(self, payment: Payment, balance: int) -> None:
        """The user's receipt for a top-up credited after its first attempt failed."""
