"""Queries on Telegram Stars payments. Functions take a connection; the caller owns the transaction.

A payment row is keyed by ``telegram_payment_charge_id`` and written before anything is credited,
so every ``successful_payment`` leaves a trace and a top-up happens at most once. Its status:

- ``received`` -> ``credited`` (with the ledger credit, one transaction) -> ``refunding`` -> ``refunded``,
  or back to ``credited`` when Telegram refuses the refund and the debit is reversed;
- ``rejected`` (did not match a package; amount 0, never credited) -> ``refunding`` -> ``refunded``,
  or back to ``rejected`` when Telegram refuses the refund.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import aiosqlite

from storage import ledger
from storage.rows import Record, fetch_all, fetch_one, returns_row


class PaymentStatus(StrEnum):
    RECEIVED = "received"  # stored, not credited yet: the retry job credits it
    CREDITED = "credited"
    REJECTED = "rejected"  # did not match a package: never credited, to be refunded
    REFUNDING = "refunding"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class Payment:
    charge_id: str
    user_id: int
    payload: str
    stars: int
    amount: int  # minor units to credit; 0 when rejected
    status: PaymentStatus
    created_at: str
    error: str | None = None  # why it was rejected, or why its last credit attempt failed


_payment = Record(Payment, status=PaymentStatus)


async def insert(
    conn: aiosqlite.Connection,
    *,
    charge_id: str,
    user_id: int,
    payload: str,
    stars: int,
    amount: int,
    status: PaymentStatus = PaymentStatus.RECEIVED,
    error: str | None = None,
) -> bool:
    """Record a payment as it arrives; False (nothing written) when the charge id is already known."""
    return await returns_row(
        conn,
        """
        INSERT INTO payments (charge_id, user_id, payload, stars, amount, status, error)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (charge_id) DO NOTHING
        RETURNING charge_id
        """,
        (charge_id, user_id, payload, stars, amount, status.value, error),
    )


async def get(conn: aiosqlite.Connection, charge_id: str) -> Payment | None:
    return await fetch_one(conn, "SELECT * FROM payments WHERE charge_id = ?", (charge_id,), _payment)


async def received(conn: aiosqlite.Connection, limit: int = 100) -> list[Payment]:
    """Payments stored but not credited yet, oldest first."""
    return await fetch_all(
        conn,
        "SELECT * FROM payments WHERE status = 'received' ORDER BY created_at, charge_id LIMIT ?",
        (limit,),
        _payment,
    )


async def move(conn: aiosqlite.Connection, charge_id: str, old: PaymentStatus, new: PaymentStatus) -> bool:
    """Compare-and-set the status; False when the payment was not in ``old``."""
    return await returns_row(
        conn,
        "UPDATE payments SET status = ? WHERE charge_id = ? AND status = ? RETURNING charge_id",
        (new.value, charge_id, old.value),
    )


async def set_error(conn: aiosqlite.Connection, charge_id: str, error: str) -> None:
    await conn.execute("UPDATE payments SET error = ? WHERE charge_id = ?", (error, charge_id))


def credit_reference(charge_id: str) -> str:
    return f"stars:{charge_id}"


def refund_reference(charge_id: str, attempt: int) -> str:
    """Ledger reference of the debit of refund attempt ``attempt`` (1, 2, … after reversals)."""
    base = f"stars:{charge_id}:refund"
    return base if attempt == 1 else f"{base}:{attempt}"


def reversal_reference(charge_id: str, attempt: int) -> str:
    return f"{refund_reference(charge_id, attempt)}:reversal"


async def refund_attempts(conn: aiosqlite.Connection, charge_id: str) -> int:
    """How many refund debits were ever posted for this charge (each failed one has its reversal)."""
    attempts = 0
    while await ledger.exists(conn, refund_reference(charge_id, attempts + 1)):
        attempts += 1
    return attempts
