"""The one small async interface every upstream adapter implements.

Money: every price is an integer in the upstream currency's minor units (``Offer.cost`` with
``Offer.currency``); adapters parse JSON numbers with ``Decimal`` and convert with
:func:`providers.money.to_minor`, never through ``float``.
Countries are ISO 3166-1 alpha-2 codes (``"US"``), services canonical slugs (``"whatsapp"``);
an adapter maps its own codes onto them and keeps unknown ones under their own name.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from datetime import datetime


class UpstreamState(enum.StrEnum):
    """What the upstream says about an order."""

    WAITING = "waiting"  # number active, no SMS yet
    RECEIVED = "received"  # at least one SMS arrived; the order may still receive more
    FINISHED = "finished"  # upstream closed the order after a code
    CANCELLED = "cancelled"  # cancelled (by us or the upstream) without a code
    EXPIRED = "expired"  # the window closed


@dataclass(frozen=True, slots=True)
class Offer:
    """One (service, country) a provider sells now."""

    provider: str
    service: str
    country: str
    cost: int | None  # minor units of ``currency``; None when the upstream publishes no price
    currency: str
    stock: int | None  # None when the upstream does not say
    product_id: str | None = None  # upstream's own id for the offer, when buying needs it
    rent_days: int | None = None  # a multi-day rental rather than a one-off activation


@dataclass(frozen=True, slots=True)
class Purchase:
    """A number bought from an upstream."""

    upstream_id: str
    phone: str
    expires_at: datetime | None = None
    cost: int | None = None  # minor units of the upstream currency, when the answer says


@dataclass(frozen=True, slots=True)
class Sms:
    """One SMS received by a number."""

    text: str
    code: str | None = None  # the code as the upstream extracted it, if it did
    sender: str | None = None
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Status:
    """The upstream's view of an order: its state and every SMS so far."""

    state: UpstreamState
    sms: tuple[Sms, ...] = field(default_factory=tuple)
    expires_at: datetime | None = None  # when the upstream says (a rental's end, after a renewal)


@dataclass(frozen=True, slots=True)
class SentSms:
    """An SMS the upstream accepted to send from one of our numbers."""

    upstream_id: str | None = None  # the upstream's id of the message, when its answer gives one


@dataclass(frozen=True, slots=True)
class Balance:
    """Our account's balance at the upstream."""

    amount: int  # minor units of ``currency``
    currency: str


class Provider(abc.ABC):
    """An upstream that sells numbers. Subclasses raise only :mod:`providers.errors` types."""

    #: short unique name, stored on every order (``"ismscode"``)
    name: str
    #: shown to users next to numbers and codes when true
    is_demo: bool = False

    @abc.abstractmethod
    async def offers(self, country: str | None = None) -> list[Offer]:
        """Services on sale (in one country, or everywhere), with cost and stock."""

    @abc.abstractmethod
    async def buy(self, offer: Offer) -> Purchase:
        """Buy a number. Raises :class:`~providers.errors.UnclearResult` when the outcome is unknown."""

    @abc.abstractmethod
    async def check(self, upstream_id: str) -> Status:
        """The order's state and all its SMS texts."""

    @abc.abstractmethod
    async def cancel(self, upstream_id: str) -> None:
        """Cancel an order that got no code; raises CancelRefused if the upstream will not."""

    async def finish(self, upstream_id: str) -> None:  # noqa: B027 - optional for upstreams
        """Tell the upstream we are done with the number (no-op where the API has no such call)."""

    @abc.abstractmethod
    async def balance(self) -> Balance:
        """Our balance at the upstream."""

    #: :meth:`cancel` gives the cost back; False where the API has no cancel (the number lapses, paid)
    can_cancel: bool = True
    #: the upstream can deliver further codes to the same number on request or by itself
    supports_another_code: bool = False
    #: :meth:`lookup` can find a purchase whose answer was lost
    can_lookup: bool = False
    #: :meth:`renew` extends a rental
    can_renew: bool = False
    #: :meth:`active` answers for every open order in one call (the poll job then checks one by one only
    #: the orders missing from its answer)
    can_list_active: bool = False
    #: requests :meth:`active` may send (pages), taken from the read budget before it runs
    active_cost: int = 1
    #: :meth:`send_sms` sends an SMS from a number we hold (paid: a refusal is an error, the rest unclear)
    can_send_sms: bool = False

    async def another_code(self, upstream_id: str) -> None:
        """Ask for one more SMS on the same number (sms-activate ``setStatus=3``)."""
        raise NotImplementedError

    async def lookup(self, offer: Offer, since: datetime) -> Purchase | None:
        """Find the number bought for ``offer`` after ``since`` whose answer was lost; None if none."""
        raise NotImplementedError

    async def renew(self, upstream_id: str, days: int) -> datetime | None:
        """Extend a rental by ``days``; the new expiry when the upstream says it."""
        raise NotImplementedError

    async def active(self) -> dict[str, Status]:
        """Every order the upstream still holds open, by upstream id, with its SMS so far: one bulk read.

        An order missing from the answer is not thereby closed: the poll job asks :meth:`check` about it.
        """
        raise NotImplementedError

    async def send_sms(self, phone: str, to: str, text: str) -> SentSms:
        """Send ``text`` by SMS from our number ``phone`` to ``to`` (international, with ``+``). Spends
        money: a documented refusal raises its error, any other failure :class:`~providers.errors.UnclearResult`."""
        raise NotImplementedError

    async def close(self) -> None:  # noqa: B027 - optional
        """Release network resources."""
