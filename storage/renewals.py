"""Rental renewals: each one's charge, days and state. The caller owns the transaction.

A renewal is ``pending`` while the upstream is asked, ``unknown`` when its answer was lost, then
``done`` (the charge is kept: renewals are not refundable once the upstream confirms) or
``refunded`` (the upstream said no, or it never renewed).
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.rows import Record, fetch_column, fetch_one, returns_row


@dataclass(frozen=True, slots=True)
class Renewal:
    order_id: int
    reference: str  # the ledger reference of its charge
    days: int
    price: int
    status: str
    created_at: str


_renewal = Record(Renewal)


async def add(conn: aiosqlite.Connection, order_id: int, reference: str, days: int, price: int) -> bool:
    """Record a pending renewal; False when this reference was already used."""
    return await returns_row(
        conn,
        "INSERT INTO order_renewals (order_id, reference, days, price, status) VALUES (?, ?, ?, ?, 'pending') "
        "ON CONFLICT (reference) DO NOTHING RETURNING id",
        (order_id, reference, days, price),
    )


async def get(conn: aiosqlite.Connection, reference: str) -> Renewal | None:
    return await fetch_one(conn, "SELECT * FROM order_renewals WHERE reference = ?", (reference,), _renewal)


async def move(conn: aiosqlite.Connection, reference: str, status: str, expect: tuple[str, ...] = ("pending",)) -> bool:
    """Compare-and-set a renewal's status; False when it was not in ``expect``."""
    marks = ", ".join("?" for _ in expect)
    return await returns_row(
        conn,
        f"UPDATE order_renewals SET status = ? WHERE reference = ? AND status IN ({marks}) RETURNING id",
        (status, reference, *expect),
    )


async def open_of_order(conn: aiosqlite.Connection, order_id: int) -> list[str]:
    """References of the order's renewals still pending or unknown."""
    return await _references(conn, "order_id = ?", order_id)


async def stale(conn: aiosqlite.Connection, before: str) -> list[str]:
    """Renewals still pending or unknown that started before ``before`` (ISO): to be resolved."""
    return await _references(conn, "created_at < ?", before)


async def _references(conn: aiosqlite.Connection, where: str, value: object) -> list[str]:
    """References of the renewals still pending or unknown that also match ``where``, oldest first."""
    return await fetch_column(
        conn,
        f"SELECT reference FROM order_renewals WHERE status IN ('pending', 'unknown') AND {where} ORDER BY id",
        (value,),
    )
