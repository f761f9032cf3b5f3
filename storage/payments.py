"""Queries on Telegram Stars payments. Functions take a connection; the caller owns the transaction.

A payment row is keyed by ``telegram_payment_charge_id``, so inserting it is what makes a top-up
happen at most once. Its status goes ``credited`` -> ``refunding`` -> ``refunded`` (or back to
``credited`` when Telegram refuses the refund and the debit is reversed).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import aiosqlite

from storage import ledger


class PaymentStatus(StrEnum):
    CREDITED = "credited"
    REFUNDING = "refunding"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class Payment:
    charge_id: str
    user_id: int
    payload: str
    stars: int
    amount: int
    status: PaymentStatus
    created_at: str


def _payment(row: aiosqlite.Row) -> Payment:
    return Payment(
        charge_id=row["charge_id"],
        user_id=row["user_id"],
        payload=row["payload"],
        stars=row["stars"],
        amount=row["amount"],
        status=PaymentStatus(row["status"]),
        created_at=row["created_at"],
    )


async def insert(
    conn: aiosqlite.Connection, *, charge_id: str, user_id: int, payload: str, stars: int, amount: int
) -> bool:
    """Record a credited payment; False (nothing written) when the charge id is already known."""
    async with conn.execute(
        """
        INSERT INTO payments (charge_id, user_id, payload, stars, amount, status)
        VALUES (?, ?, ?, ?, ?, 'credited')
        ON CONFLICT (charge_id) DO NOTHING
        RETURNING charge_id
        """,
        (charge_id, user_id, payload, stars, amount),
    ) as cur:
        return await cur.fetchone() is not None


async def get(conn: aiosqlite.Connection, charge_id: str) -> Payment | None:
    async with conn.execute("SELECT * FROM payments WHERE charge_id = ?", (charge_id,)) as cur:
        row = await cur.fetchone()
    return _payment(row) if row else None


async def move(conn: aiosqlite.Connection, charge_id: str, old: PaymentStatus, new: PaymentStatus) -> bool:
    """Compare-and-set the status; False when the payment was not in ``old``."""
    async with conn.execute(
        "UPDATE payments SET status = ? WHERE charge_id = ? AND status = ? RETURNING charge_id",
        (new.value, charge_id, old.value),
    ) as cur:
        return await cur.fetchone() is not None


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
