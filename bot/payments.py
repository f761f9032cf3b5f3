"""Telegram Stars top-ups: packages, pre-checkout checks, exactly-once credits and admin refunds.

A credit inserts the payment row (keyed by ``telegram_payment_charge_id``) and posts the ledger
credit in one transaction, so a replayed ``successful_payment`` credits nothing.

A refund debits the balance and marks the payment ``refunding`` in one transaction, then asks
Telegram to return the Stars: success marks it ``refunded``; a definite refusal reverses the debit
(back to ``credited``). A crash, network error or 5xx in between leaves ``refunding`` with the debit
posted; ``/refund_stars`` again repeats only the API call (CHARGE_ALREADY_REFUNDED counts as done).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramServerError

from storage import admin_log, ledger, users
from storage import payments as q
from storage.db import Database
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
    DUPLICATE = "duplicate"  # the same charge id again: nothing happened
    REJECTED = "rejected"  # does not match a package: not credited, admins to be told


class Refund(StrEnum):
    REFUNDED = "refunded"
    NOT_FOUND = "not_found"
    ALREADY_REFUNDED = "already_refunded"
    INSUFFICIENT = "insufficient"  # the balance no longer covers the credited amount
    FAILED = "failed"  # Telegram refused; the debit was reversed
    UNCLEAR = "unclear"  # no definite answer; left 'refunding', run the command again


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


@dataclass(frozen=True, slots=True)
class RefundResult:
    outcome: Refund
    payment: Payment | None = None
    balance: int = 0
    error: str = ""


class StarRefunder(Protocol):
    async def refund_star_payment(self, user_id: int, telegram_payment_charge_id: str) -> bool: ...


class Payments:
    def __init__(self, db: Database, packages: Iterable[int], rate: int) -> None:
        if rate < 1:
            raise ValueError("rate must be a positive number of minor units per Star")
        self.db = db
        self.rate = rate
        self.packages = tuple(Package(stars, stars * rate) for stars in sorted(set(packages)))
        self._refunds = asyncio.Lock()  # one refund at a time: no two API calls race on a charge

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
        """Credit a successful payment once per charge id."""
        refusal = self.check(payload=payload, currency=currency, total_amount=total_amount)
        package = self.package(payload)
        if refusal is not None or package is None:
            what = (refusal, payload[:64], total_amount, currency)
            logger.warning("stars payment %s of user %d not credited: %s %r %d %s", charge_id, user_id, *what)
            return CreditResult(Credit.REJECTED, refusal=refusal)
        async with self.db.transaction() as conn:
            fresh = await q.insert(
                conn, charge_id=charge_id, user_id=user_id, payload=payload, stars=package.stars, amount=package.amount
            )
            entry = None
            if fresh:
                entry = await ledger.post(
                    conn, user_id=user_id, amount=package.amount, kind="topup", reference=q.credit_reference(charge_id)
                )
        if entry is None:
            logger.info("stars payment %s replayed; nothing credited", charge_id)
            return CreditResult(Credit.DUPLICATE)
        logger.info("user %d topped up %d stars = %d (charge %s)", user_id, package.stars, package.amount, charge_id)
        return CreditResult(Credit.CREDITED, amount=package.amount, balance=entry.balance_after)

    async def refund(self, refunder: StarRefunder, *, admin_id: int, charge_id: str) -> RefundResult:
        async with self._refunds:
            async with self.db.transaction() as conn:
                payment = await q.get(conn, charge_id)
                if payment is None:
                    return RefundResult(Refund.NOT_FOUND)
                if payment.status is PaymentStatus.REFUNDED:
                    return RefundResult(Refund.ALREADY_REFUNDED, payment)
                user = await users.get(conn, payment.user_id)
                balance = user.balance if user else 0
                if payment.status is PaymentStatus.CREDITED:
                    if balance < payment.amount:
                        return RefundResult(Refund.INSUFFICIENT, payment, balance=balance)
                    attempt = await q.refund_attempts(conn, charge_id) + 1
                    await ledger.post(
                        conn,
                        user_id=payment.user_id,
                        amount=-payment.amount,
                        kind="stars_refund",
                        reference=q.refund_reference(charge_id, attempt),
                        actor_id=admin_id,
                        reason="Stars refund",
                    )
                    await q.move(conn, charge_id, PaymentStatus.CREDITED, PaymentStatus.REFUNDING)
                    action = "stars_refund"
                else:  # 'refunding': the debit is already posted, only the API call is repeated
                    attempt = await q.refund_attempts(conn, charge_id)
                    action = "stars_refund_retry"
                details = f"charge={charge_id} user={payment.user_id} amount={payment.amount}"
                await admin_log.record(conn, admin_id, action, details)
            return await self._call(refunder, payment, admin_id, attempt)

    async def _call(self, refunder: StarRefunder, payment: Payment, admin_id: int, attempt: int) -> RefundResult:
        try:
            await refunder.refund_star_payment(payment.user_id, payment.charge_id)
        except (TelegramNetworkError, TelegramServerError) as exc:
            logger.warning("stars refund %s unclear, left refunding: %s", payment.charge_id, exc)
            return RefundResult(Refund.UNCLEAR, payment, error=str(exc))
        except TelegramAPIError as exc:
            if "CHARGE_ALREADY_REFUNDED" not in exc.message:
                return await self._reverse(payment, admin_id, attempt, str(exc))
        async with self.db.transaction() as conn:
            await q.move(conn, payment.charge_id, PaymentStatus.REFUNDING, PaymentStatus.REFUNDED)
            user = await users.get(conn, payment.user_id)
        logger.info("stars payment %s refunded by admin %d", payment.charge_id, admin_id)
        return RefundResult(Refund.REFUNDED, payment, balance=user.balance if user else 0)

    async def _reverse(self, payment: Payment, admin_id: int, attempt: int, error: str) -> RefundResult:
        async with self.db.transaction() as conn:
            if await q.move(conn, payment.charge_id, PaymentStatus.REFUNDING, PaymentStatus.CREDITED):
                await ledger.post(
                    conn,
                    user_id=payment.user_id,
                    amount=payment.amount,
                    kind="stars_refund_reversal",
                    reference=q.reversal_reference(payment.charge_id, attempt),
                    actor_id=admin_id,
                    reason=error[:200],
                )
                await admin_log.record(conn, admin_id, "stars_refund_reversed", f"charge={payment.charge_id}")
            user = await users.get(conn, payment.user_id)
        logger.warning("stars refund %s refused by Telegram, debit reversed: %s", payment.charge_id, error)
        return RefundResult(Refund.FAILED, payment, balance=user.balance if user else 0, error=error)
