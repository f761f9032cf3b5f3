"""Refunding a Stars top-up by an operator's command, money first and the API call after.

A refund of a credited payment debits the balance and marks it ``refunding`` in one transaction,
then asks Telegram to return the Stars: success marks it ``refunded``; a definite refusal reverses
the debit (back to ``credited``). A crash, network error or 5xx in between leaves ``refunding`` with
the debit posted; ``/refund_stars`` again repeats only the API call (CHARGE_ALREADY_REFUNDED counts as
done). A rejected payment was never credited, so its refund debits nothing: ``rejected`` ->
``refunding`` -> ``refunded``, back to ``rejected`` on a definite refusal.

One refund of a charge runs at a time across every replica: the whole of it (the status read, the debit,
the API call and its outcome) holds the charge's named lock (:meth:`Store.singleton`, a session advisory
lock on PostgreSQL), so a second admin's ``/refund_stars`` never calls Telegram while the first one's call
is open and then reverses a debit of Stars that were in fact returned. The second one waits for the lock
and then reads what the first left; a ``refunding`` row left by a crashed replica is retried by one at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import aiosqlite
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramServerError

from storage import admin_log, ledger, users
from storage import payments as payment_rows
from storage.backends import Store
from storage.payments import Payment, PaymentStatus

logger = logging.getLogger(__name__)


class Refund(StrEnum):
    REFUNDED = "refunded"
    NOT_FOUND = "not_found"
    ALREADY_REFUNDED = "already_refunded"
    INSUFFICIENT = "insufficient"  # the balance no longer covers the credited amount
    FAILED = "failed"  # Telegram refused; the debit was reversed (or, if rejected, it is 'rejected' again)
    UNCLEAR = "unclear"  # no definite answer; left 'refunding', run the command again
    PENDING = "pending"  # still 'received': not credited yet, nothing to take back; the retry job credits it
    BUSY = "busy"  # another replica's refund of this charge still runs; nothing changed here


@dataclass(frozen=True, slots=True)
class RefundResult:
    outcome: Refund
    payment: Payment | None = None
    balance: int = 0
    error: str = ""
    debited: bool = True  # False for a rejected payment: it was never credited, so nothing is taken back


async def _refundable(conn: aiosqlite.Connection, charge_id: str) -> Payment | RefundResult:
    """The payment of ``charge_id``, or the answer when there is none or it is refunded already: the busy
    reply and the refund itself read it the same way."""
    payment = await payment_rows.get(conn, charge_id)
    if payment is None:
        return RefundResult(Refund.NOT_FOUND)
    if payment.status is PaymentStatus.REFUNDED:
        return RefundResult(Refund.ALREADY_REFUNDED, payment)
    return payment


class StarRefunder(Protocol):
    async def refund_star_payment(self, user_id: int, telegram_payment_charge_id: str) -> bool: ...


class StarRefunds:
    """The refund half of :class:`bot.money.stars.Payments`."""

    db: Store
    _refunds: asyncio.Lock  # one refund at a time in this process; _one_replica does it across replicas
    #: how long a refund waits for another replica's refund of the same charge, and how often it looks
    refund_wait: float = 60.0
    refund_poll: float = 0.2

    @asynccontextmanager
    async def _one_replica(self, charge_id: str) -> AsyncIterator[bool]:
        """True once this replica holds the charge's refund lock; False if another held it for refund_wait.

        A try-lock polled rather than a blocking one: the lock is a session lock held on its own pooled
        connection, and a bounded wait lets the admin hear that the other refund is still running.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.refund_wait
        while True:
            async with self.db.singleton(f"stars_refund:{charge_id}") as mine:
                if mine or loop.time() >= deadline:
                    yield mine
                    return
            await asyncio.sleep(self.refund_poll)

    async def _busy(self, charge_id: str) -> RefundResult:
        """Another replica's refund of this charge is still running: say so, change nothing."""
        async with self.db.read() as conn:
            payment = await _refundable(conn, charge_id)
            if isinstance(payment, RefundResult):
                return payment
            debited = await ledger.exists(conn, payment_rows.credit_reference(charge_id))
        logger.warning("stars refund %s: another replica's refund of it is still running", charge_id)
        return RefundResult(Refund.BUSY, payment, debited=debited)

    async def refund(self, refunder: StarRefunder, *, admin_id: int, charge_id: str) -> RefundResult:
        async with self._refunds, self._one_replica(charge_id) as mine:
            if not mine:
                return await self._busy(charge_id)
            # read inside the lock: another replica's refund may have just moved this payment
            async with self.db.transaction() as conn:
                payment = await _refundable(conn, charge_id)
                if isinstance(payment, RefundResult):
                    return payment
                user = await users.get(conn, payment.user_id)
                balance = user.balance if user else 0
                if payment.status is PaymentStatus.RECEIVED:
                    return RefundResult(Refund.PENDING, payment, balance=balance)
                # only a credited payment has money to take back; a rejected one never had its credit
                debited = await ledger.exists(conn, payment_rows.credit_reference(charge_id))
                if payment.status is PaymentStatus.CREDITED:
                    if balance < payment.amount:
                        return RefundResult(Refund.INSUFFICIENT, payment, balance=balance)
                    attempt = await payment_rows.refund_attempts(conn, charge_id) + 1
                    await ledger.post(
                        conn,
                        user_id=payment.user_id,
                        amount=-payment.amount,
                        kind="stars_refund",
                        reference=payment_rows.refund_reference(charge_id, attempt),
                        actor_id=admin_id,
                        reason="Stars refund",
                    )
                    await payment_rows.move(conn, charge_id, PaymentStatus.CREDITED, PaymentStatus.REFUNDING)
                    action = "stars_refund"
                elif payment.status is PaymentStatus.REJECTED:
                    await payment_rows.move(conn, charge_id, PaymentStatus.REJECTED, PaymentStatus.REFUNDING)
                    attempt = 0
                    action = "stars_refund_rejected"
                else:  # 'refunding': any debit is already posted, only the API call is repeated
                    attempt = await payment_rows.refund_attempts(conn, charge_id)
                    action = "stars_refund_retry"
                details = f"charge={charge_id} user={payment.user_id} amount={payment.amount}"
                await admin_log.record(conn, admin_id, action, details)
            return await self._call(refunder, payment, admin_id, attempt, debited)

    async def _call(
        self, refunder: StarRefunder, payment: Payment, admin_id: int, attempt: int, debited: bool
    ) -> RefundResult:
        try:
            await refunder.refund_star_payment(payment.user_id, payment.charge_id)
        except (TelegramNetworkError, TelegramServerError) as exc:
            logger.warning("stars refund %s unclear, left refunding: %s", payment.charge_id, exc)
            return RefundResult(Refund.UNCLEAR, payment, error=str(exc), debited=debited)
        except TelegramAPIError as exc:
            if "CHARGE_ALREADY_REFUNDED" not in exc.message:
                if debited:
                    return await self._reverse(payment, admin_id, attempt, str(exc))
                return await self._unrefund(payment, admin_id, str(exc))
        async with self.db.transaction() as conn:
            await payment_rows.move(conn, payment.charge_id, PaymentStatus.REFUNDING, PaymentStatus.REFUNDED)
            user = await users.get(conn, payment.user_id)
        logger.info("stars payment %s refunded by admin %d", payment.charge_id, admin_id)
        return RefundResult(Refund.REFUNDED, payment, balance=user.balance if user else 0, debited=debited)

    async def _reverse(self, payment: Payment, admin_id: int, attempt: int, error: str) -> RefundResult:
        async with self.db.transaction() as conn:
            if await payment_rows.move(conn, payment.charge_id, PaymentStatus.REFUNDING, PaymentStatus.CREDITED):
                await ledger.post(
                    conn,
                    user_id=payment.user_id,
                    amount=payment.amount,
                    kind="stars_refund_reversal",
                    reference=payment_rows.reversal_reference(payment.charge_id, attempt),
                    actor_id=admin_id,
                    reason=error[:200],
                )
                await admin_log.record(conn, admin_id, "stars_refund_reversed", f"charge={payment.charge_id}")
            user = await users.get(conn, payment.user_id)
        logger.warning("stars refund %s refused by Telegram, debit reversed: %s", payment.charge_id, error)
        return RefundResult(Refund.FAILED, payment, balance=user.balance if user else 0, error=error)

    async def _unrefund(self, payment: Payment, admin_id: int, error: str) -> RefundResult:
        """Telegram refused to refund a rejected payment: nothing was debited, it is 'rejected' again."""
        async with self.db.transaction() as conn:
            if await payment_rows.move(conn, payment.charge_id, PaymentStatus.REFUNDING, PaymentStatus.REJECTED):
                await admin_log.record(conn, admin_id, "stars_refund_refused", f"charge={payment.charge_id}")
            user = await users.get(conn, payment.user_id)
        logger.warning("stars refund %s (rejected payment) refused by Telegram: %s", payment.charge_id, error)
        return RefundResult(Refund.FAILED, payment, balance=user.balance if user else 0, error=error, debited=False)
