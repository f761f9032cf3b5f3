"""The referral programme: who invited a user, and the inviter's bonus on the user's settled purchases.

The rules:

* **Binding.** A user opening ``t.me/<bot>?start=r<inviter id>`` is bound to that inviter only while
  they are a newcomer: no inviter yet, no order ever placed, and no money ever moved on their balance
  (no top-up, promo or credit). The sender is registered before any handler runs, so "no record before
  this update" cannot be seen; a newcomer in this sense has done nothing a first /start would not.
  Binding happens once and is never changed. Refused, and the user just greeted: a link to oneself,
  one whose inviter the bot has never seen or has banned, and a loop (the inviter is the user's own
  invitee, at any depth: A invites B, then B's link opened by A binds nothing).
* **The bonus.** ``percent`` (``REFERRAL_PERCENT``) of the price of each order of an invited user that
  got its code and was then finished (the user's Done, or its expiry with a code): from then on it can
  never be refunded. Rounded down to whole minor units; a bonus of 0 is not posted. It is a ledger row
  of kind ``referral`` with reference ``referral:<order id>``, posted in the transaction that completes
  the order, so a replay of the finish posts nothing. Renewals of a rental earn nothing (one bonus per
  order, on its price). Orders refunded, failed, or closed without a code earn nothing.
* **Banned or blocked inviters.** An inviter who blocked the bot still earns (it waits on their balance).
  One banned when the order completes gets nothing for that order, not later either.
* ``percent`` 0 turns the programme off: nobody is bound and nothing is paid.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass

import aiosqlite

from storage import ledger, referrals
from storage.backends import Store
from storage.ledger import Entry
from storage.orders import Order, OrderStatus

logger = logging.getLogger(__name__)

#: a referral payload of ``/start``: ``r`` and the inviter's Telegram id
PAYLOAD = re.compile(r"^r([1-9][0-9]{0,15})$")


class Binding(enum.StrEnum):
    """What a referral /start did."""

    BOUND = "bound"
    OFF = "off"  # the programme is off
    SELF = "self"  # the user's own link
    UNKNOWN = "unknown"  # an inviter the bot has never seen
    BANNED = "banned"  # a banned inviter
    LOOP = "loop"  # the inviter is below the user in the chain of invitations
    NOT_NEW = "not_new"  # the user already has an inviter, an order or money


@dataclass(frozen=True, slots=True)
class Summary:
    """A user's referral screen: their payload, the percent, people bound to them and what they earned."""

    payload: str
    percent: int
    joined: int
    bonuses: int
    earned: int


def payload(user_id: int) -> str:
    return f"r{user_id}"


def inviter_id(start_payload: str | None) -> int | None:
    """The inviter's id in a ``/start`` payload, or None when it is not a referral payload."""
    match = PAYLOAD.match(start_payload or "")
    return int(match.group(1)) if match else None


def bonus(price: int, percent: int) -> int:
    """``percent`` of ``price`` in whole minor units, rounded down (0 for nothing to pay)."""
    if price <= 0 or percent <= 0:
        return 0
    return price * percent // 100


class Referrals:
    def __init__(self, db: Store, percent: int) -> None:
        self.db = db
        self.percent = percent

    @property
    def enabled(self) -> bool:
        return self.percent > 0

    async def bind(self, user_id: int, inviter: int) -> Binding:
        """Bind ``user_id`` to ``inviter`` if the rules allow (see the module docstring)."""
        if not self.enabled:
            return Binding.OFF
        if inviter == user_id:
            return Binding.SELF
        async with self.db.transaction() as conn:
            found = await referrals.inviter(conn, inviter)
            if found is None:
                result = Binding.UNKNOWN
            elif found.is_banned:
                result = Binding.BANNED
            elif not await referrals.is_newcomer(conn, user_id):
                result = Binding.NOT_NEW
            elif user_id in await referrals.chain(conn, inviter):
                result = Binding.LOOP
            else:
                result = Binding.BOUND if await referrals.bind(conn, user_id, inviter) else Binding.NOT_NEW
        logger.info("referral: user %d, inviter %d: %s", user_id, inviter, result)
        return result

    async def summary(self, user_id: int) -> Summary:
        async with self.db.read() as conn:
            totals = await referrals.totals(conn, user_id)
        return Summary(payload(user_id), self.percent, totals.joined, totals.bonuses, totals.earned)

    async def credit(self, conn: aiosqlite.Connection, order: Order) -> Entry | None:
        """The settlement hook: the inviter's bonus for ``order``, just completed, in the caller's
        transaction (the one that completed it). None when nothing is owed or it was posted already."""
        if order.status is not OrderStatus.COMPLETED or not self.enabled:
            return None
        amount = bonus(order.price, self.percent)
        if amount == 0:
            return None
        inviter = await referrals.inviter_of(conn, order.user_id)
        if inviter is None or inviter.id == order.user_id or inviter.is_banned:
            return None
        if order.user_id in await referrals.chain(conn, inviter.id):  # a loop: never bound, but never paid either
            return None
        try:
            entry = await ledger.post(
                conn,
                user_id=inviter.id,
                amount=amount,
                kind=referrals.KIND,
                reference=referrals.reference(order.id),
                order_id=order.id,
            )
        except ledger.OutOfRange:  # the inviter's balance is at the bound: the order completes all the same
            logger.warning("order %d: referral bonus %d to user %d is out of range", order.id, amount, inviter.id)
            return None
        if entry is not None:
            logger.info("order %d: referral bonus %d to user %d", order.id, amount, inviter.id)
        return entry
