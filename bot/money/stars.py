"""Telegram Stars top-ups: packages, pre-checkout checks, exactly-once credits and admin refunds.

Telegram sends a ``successful_payment`` once, after the Stars are taken, and never again. So every
one is first stored in its own transaction (keyed by ``telegram_payment_charge_id``): as
``received`` when it matches a package, as ``rejected`` (amount 0, the reason in ``error``) when it
does not. A received payment is then credited: ``received`` -> ``credited`` and the ledger credit
``stars:<charge_id>`` in one transaction. A replayed update finds the row and credits nothing. When
that credit fails (say "database is locked"), the row stays ``received`` and the scheduled
:meth:`Payments.credit_received` credits it later, exactly once (the status move is a
compare-and-set in the same transaction as the ledger row).

A refund of a credited payment debits the balance and marks it ``refunding`` in one transaction,
then asks Telegram to return the Stars: success marks it ``refunded``; a definite refusal reverses
the debit (back to ``credited``). A crash, network error or 5xx in between leaves ``refunding`` with
the debit posted; ``/refund_stars`` again repeats only the API call (CHARGE_ALREADY_REFUNDED counts as
done). A rejected payment was never credited, so its refund debits nothing: ``rejected`` ->
``refunding`` -> ``refunded``, back to ``rejected`` on a definite refusal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramServerError
from aiogram.utils.i18n import gettext as _
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from handlers.notifier import Notifier
from storage import admin_log, ledger, users
from storage import payments as q
from storage.db import Database
from storage.payments import Payment, PaymentStatus

logger = logging.getLogger(__name__)

STARS = "XTR"
RETRY_SECONDS = 60  # how often payments left 'received' are credited again


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


class Refund(StrEnum):
    REFUNDED = "refunded"
    NOT_FOUND = "not_found"
    ALREADY_REFUNDED = "already_refunded"
    INSUFFICIENT = "insufficient"  # the balance no longer covers the credited amount
    FAILED = "failed"  # Telegram refused; the debit was reversed (or, if rejected, it is 'rejected' again)
    UNCLEAR = "unclear"  # no definite answer; left 'refunding', run the command again
    PENDING = "pending"  # still 'received': not credited yet, nothing to take back; the retry job credits it


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
class RefundResult:
    outcome: Refund
    payment: Payment | None = None
    balance: int = 0
    error: str = ""
    debited: bool = True  # False for a rejected payment: it was never credited, so nothing is taken back


@dataclass(frozen=True, slots=True)
class Landed:
    """A payment left 'received' that the retry job has now credited."""

    payment: Payment
    balance: int


def receipt(amount: str, balance: str) -> str:
    """The user's receipt for a credited top-up (call inside an i18n context)."""
    return _("✅ Topped up {amount}. Balance: <b>{balance}</b>.").format(amount=amount, balance=balance)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


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
        """Store a successful payment, then credit it once per charge id. Never raises on a database error."""
        refusal = self.check(payload=payload, currency=currency, total_amount=total_amount)
        package = self.package(payload)
        try:
            async with self.db.transaction() as conn:
                if refusal is None and package is not None:
                    fresh = await q.insert(
                        conn,
                        charge_id=charge_id,
                        user_id=user_id,
                        payload=payload,
                        stars=package.stars,
                        amount=package.amount,
                    )
                else:
                    fresh = await q.insert(
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
            if not await q.move(conn, charge_id, PaymentStatus.RECEIVED, PaymentStatus.CREDITED):
                return None
            return await ledger.post(
                conn, user_id=user_id, amount=amount, kind="topup", reference=q.credit_reference(charge_id)
            )

    async def _note(self, charge_id: str, exc: BaseException) -> None:
        """Keep why the credit failed on the row, if the database lets us (best effort)."""
        try:
            async with self.db.transaction() as conn:
                await q.set_error(conn, charge_id, _describe(exc))
        except Exception as again:
            logger.warning("stars payment %s: could not record the credit error: %s", charge_id, _describe(again))

    async def credit_received(self, limit: int = 100) -> list[Landed]:
        """Credit every payment still 'received' (its first credit failed); each lands exactly once."""
        async with self.db.read() as conn:
            waiting = await q.received(conn, limit)
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

    async def retry(self, notifier: Notifier) -> None:
        """The scheduled job: credit what is still 'received' and send each user the receipt."""
        for done in await self.credit_received():
            user_id = done.payment.user_id
            async with self.db.read() as conn:
                user = await users.get(conn, user_id)
            locale = user.language if user else notifier.i18n.default_locale
            with notifier.i18n.context(), notifier.i18n.use_locale(locale):
                text = receipt(notifier.billing.fmt(done.payment.amount), notifier.billing.fmt(done.balance))
            try:
                await notifier.bot.send_message(user_id, text)
            except TelegramAPIError as exc:
                logger.warning("could not send user %d the receipt of %s: %s", user_id, done.payment.charge_id, exc)

    def schedule(
        self,
        scheduler: AsyncIOScheduler,
        notifier: Notifier,
        wrap: Callable[[Callable[[], Awaitable[None]]], Callable[[], Awaitable[None]]] = lambda job: job,
    ) -> None:
        """Credit left-over 'received' payments at start and every minute; ``wrap`` lets shutdown wait for a run."""

        async def retry() -> None:
            await self.retry(notifier)

        scheduler.add_job(
            wrap(retry),
            "interval",
            seconds=RETRY_SECONDS,
            id="stars_credit_retry",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

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
                if payment.status is PaymentStatus.RECEIVED:
                    return RefundResult(Refund.PENDING, payment, balance=balance)
                # only a credited payment has money to take back; a rejected one never had its credit
                debited = await ledger.exists(conn, q.credit_reference(charge_id))
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
                elif payment.status is PaymentStatus.REJECTED:
                    await q.move(conn, charge_id, PaymentStatus.REJECTED, PaymentStatus.REFUNDING)
                    attempt = 0
                    action = "stars_refund_rejected"
                else:  # 'refunding': any debit is already posted, only the API call is repeated
                    attempt = await q.refund_attempts(conn, charge_id)
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
            await q.move(conn, payment.charge_id, PaymentStatus.REFUNDING, PaymentStatus.REFUNDED)
            user = await users.get(conn, payment.user_id)
        logger.info("stars payment %s refunded by admin %d", payment.charge_id, admin_id)
        return RefundResult(Refund.REFUNDED, payment, balance=user.balance if user else 0, debited=debited)

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

    async def _unrefund(self, payment: Payment, admin_id: int, error: str) -> RefundResult:
        """Telegram refused to refund a rejected payment: nothing was debited, it is 'rejected' again."""
        async with self.db.transaction() as conn:
            if await q.move(conn, payment.charge_id, PaymentStatus.REFUNDING, PaymentStatus.REJECTED):
                await admin_log.record(conn, admin_id, "stars_refund_refused", f"charge={payment.charge_id}")
            user = await users.get(conn, payment.user_id)
        logger.warning("stars refund %s (rejected payment) refused by Telegram: %s", payment.charge_id, error)
        return RefundResult(Refund.FAILED, payment, balance=user.balance if user else 0, error=error, debited=False)
