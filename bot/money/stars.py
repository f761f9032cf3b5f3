"""Telegram Stars top-ups: packages, pre-checkout checks and exactly-once credits.

Refunds by an operator are :mod:`bot.money.star_refunds`.

Telegram sends a ``successful_payment`` once, after the Stars are taken, and never again. So every
one is first stored in its own transaction (keyed by ``telegram_payment_charge_id``): as
``received`` when it matches a package, as ``rejected`` (amount 0, the reason in ``error``) when it
does not. A received payment is then credited: ``received`` -> ``credited`` and the ledger credit
``stars:<charge_id>`` in one transaction. A replayed update finds the row and credits nothing. When
that credit fails (say "database is locked"), the row stays ``received`` and the scheduled
:meth:`Payments.credit_received` credits it later, exactly once (the status move is a
compare-and-set in the same transaction as the ledger row).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from bot.money.star_refunds import Refund as Refund
from bot.money.star_refunds import RefundResult as RefundResult
from bot.money.star_refunds import StarRefunder as StarRefunder
from bot.money.star_refunds import StarRefunds
from bot.notifications import Notifications
from storage import ledger
from storage import payments as payment_rows
from storage.backends import Store
from storage.payments import Payment, PaymentStatus

logger = logging.getLogger(__name__)

STARS = "XTR"


class Refusal(StrEnum):
    BANNED = "banned"
    UNKNOWN_PACKAGE = "unknown_package"
    CURRENCY = "currency"
    AMOUNT = "amount"


class Credit(StrEnum):
    CREDITED = "credited"
    DUPLICATE = "duplicate"  # the same charge id again (or credited by the retry job): nothing happened here
    REJECTED = "rejected"  # does not match a package: stored 'rejected', not credited, admins to be told
    DELAYED = "delayed"  # stored 'received' but the credit failed: the retry job credits it; admins to be told
    UNSTORED = "unstored"  # not even stored (database down): logged at ERROR, admins to be told


@dataclass(frozen=True, slots=True)
class Package:
    stars: int
    amount: int  # credited, minor units of the bot's currency

    @property
    def payload(self) -> str:
        return f"stars:{self.stars}"


@dataclass(frozen=True, slots=True)
class CreditResult:
    outcome: Credit
    amount: int = 0
    balance: int = 0
    refusal: Refusal | None = None
    error: str = ""  # why it was not credited (DELAYED, UNSTORED)


@dataclass(frozen=True, slots=True)
class Landed:
    """A payment left 'received' that the retry job has now credited."""

    payment: Payment
    balance: int


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


class Payments(StarRefunds):
    def __init__(self, db: Store, packages: Iterable[int], rate: int) -> None:
        if rate < 1:
            raise ValueError("rate must be a positive number of minor units per Star")
        self.db = db
        self.rate = rate
        self.packages = tuple(Package(stars, stars * rate) for stars in sorted(set(packages)))
        self._refunds = asyncio.Lock()  # one refund at a time: no two API calls race on a charge

    async def stored(self, charge_id: str) -> bool:
        """The payment of this Telegram charge id is in the database, credited or not."""
        async with self.db.read() as conn:
            return await payment_rows.get(conn, charge_id) is not None

    def package(self, payload: str) -> Package | None:
        return next((p for p in self.packages if p.payload == payload), None)

    def offer(self, stars: int) -> Package | None:
        return next((p for p in self.packages if p.stars == stars), None)

    def check(self, *, payload: str, currency: str, total_amount: int, banned: bool = False) -> Refusal | None:
        """Why a pre-checkout query must be refused, or None. Pure: no I/O."""
        package = self.package(payload)
        if banned:
            return Refusal.BANNED
        if package is None:
            return Refusal.UNKNOWN_PACKAGE
        if currency != STARS:
            return Refusal.CURRENCY
        if total_amount != package.stars:
            return Refusal.AMOUNT
        return None

    async def credit(
        self, *, user_id: int, charge_id: str, payload: str, currency: str, total_amount: int
    ) -> CreditResult:
        """Store a successful payment, then credit it once per charge id. Never raises on a database error."""
        refusal = self.check(payload=payload, currency=currency, total_amount=total_amount)
        package = self.package(payload)
        try:
            async with self.db.transaction() as conn:
                if refusal is None and package is not None:
                    fresh = await payment_rows.insert(
                        conn,
                        charge_id=charge_id,
                        user_id=user_id,
                        payload=payload,
                        stars=package.stars,
                        amount=package.amount,
                    )
                else:
                    fresh = await payment_rows.insert(
                        conn,
                        charge_id=charge_id,
                        user_id=user_id,
                        payload=payload,
                        stars=total_amount,
                        amount=0,
                        status=PaymentStatus.REJECTED,
                        error=f"{refusal}: {total_amount} {currency}"[:200],
                    )
        except Exception as exc:  # the database is down: this log line and the admins' message are all that is left
            logger.error(
                "stars payment %s of user %d (%d %s, payload %r) NOT STORED and not credited: %s",
                charge_id,
                user_id,
                total_amount,
                currency,
                payload[:64],
                _describe(exc),
            )
            return CreditResult(Credit.UNSTORED, refusal=refusal, error=_describe(exc))
        if not fresh:
            logger.info("stars payment %s replayed; nothing credited", charge_id)
            return CreditResult(Credit.DUPLICATE)
        if refusal is not None or package is None:
            what = (refusal, payload[:64], total_amount, currency)
            logger.warning("stars payment %s of user %d rejected, not credited: %s %r %d %s", charge_id, user_id, *what)
            return CreditResult(Credit.REJECTED, refusal=refusal)
        try:
            entry = await self._settle(charge_id, user_id, package.amount)
        except Exception as exc:
            logger.error(
                "stars payment %s of user %d stored but not credited yet (will retry): %s",
                charge_id,
                user_id,
                _describe(exc),
            )
            await self._note(charge_id, exc)
            return CreditResult(Credit.DELAYED, amount=package.amount, error=_describe(exc))
        if entry is None:  # the retry job got there first; it sends the receipt
            return CreditResult(Credit.DUPLICATE)
        logger.info("user %d topped up %d stars = %d (charge %s)", user_id, package.stars, package.amount, charge_id)
        return CreditResult(Credit.CREDITED, amount=package.amount, balance=entry.balance_after)

    async def _settle(self, charge_id: str, user_id: int, amount: int) -> ledger.Entry | None:
        """received -> credited with its ledger credit, one transaction; None when it was not 'received'."""
        async with self.db.transaction() as conn:
            if not await payment_rows.move(conn, charge_id, PaymentStatus.RECEIVED, PaymentStatus.CREDITED):
                return None
            return await ledger.post(
                conn, user_id=user_id, amount=amount, kind="topup", reference=payment_rows.credit_reference(charge_id)
            )

    async def _note(self, charge_id: str, exc: BaseException) -> None:
        """Keep why the credit failed on the row, if the database lets us (best effort)."""
        try:
            async with self.db.transaction() as conn:
                await payment_rows.set_error(conn, charge_id, _describe(exc))
        except Exception as again:
            logger.warning("stars payment %s: could not record the credit error: %s", charge_id, _describe(again))

    async def credit_received(self, limit: int = 100) -> list[Landed]:
        """Credit every payment still 'received' (its first credit failed); each lands exactly once."""
        async with self.db.read() as conn:
            waiting = await payment_rows.received(conn, limit)
        landed: list[Landed] = []
        for payment in waiting:
            try:
                entry = await self._settle(payment.charge_id, payment.user_id, payment.amount)
            except Exception as exc:
                logger.error(
                    "stars payment %s of user %d still not credited (will retry): %s",
                    payment.charge_id,
                    payment.user_id,
                    _describe(exc),
                )
                await self._note(payment.charge_id, exc)
                continue
            if entry is not None:
                logger.info(
                    "user %d topped up %d stars = %d on retry (charge %s)",
                    payment.user_id,
                    payment.stars,
                    payment.amount,
                    payment.charge_id,
                )
                landed.append(Landed(payment, entry.balance_after))
        return landed

    async def retry(self, notifications: Notifications) -> None:
        """The scheduled job: credit what is still 'received' and send each user the receipt."""
        for done in await self.credit_received():
            await notifications.send_receipt(done.payment, done.balance)
