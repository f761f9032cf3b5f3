"""Rental renewals: each one's charge, days and state. The caller owns the transaction.

A renewal is ``pending`` while the upstream is asked, ``unknown`` when its answer was lost, then
``done`` (the charge is kept: renewals are not refundable once the upstream confirms) or
``refunded`` (the upstream said no, or it never renewed).
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite


@dataclass(frozen=True, slots=True)
class Renewal:
    order_id: int
    reference: str  # the ledger reference of its charge
    days: int
    price: int
    status: str
    created_at: str


async def add(conn: aiosqlite.Connection, order_id: int, reference: str, days: int, price: int) -> bool:
    """Record a pending renewal; False when this reference was already used."""
    async with conn.execute(
        "INSERT INTO order_renewals (order_id, reference, days, price, status) VALUES (?, ?, ?, ?, 'pending') "
        "ON CONFLICT (reference) DO NOTHING RETURNING id",
        (order_id, reference, days, price),
    ) as cur:
        return await cur.fetchone() is not None


async def get(conn: aiosqlite.Connection, reference: str) -> Renewal | None:
    async with conn.execute(
        "SELECT order_id, reference, days, price, status, created_at FROM order_renewals WHERE reference = ?",
        (reference,),
    ) as cur:
        row = await cur.fetchone()
    return Renewal(*row) if row else None


async def move(conn: aiosqlite.Connection, reference: str, status: str, expect: tuple[str, ...] = ("pending",)) -> bool:
    """Compare-and-set a renewal's status; False when it was not in ``expect``."""
    marks = ", ".join("?" for _ in expect)
    async with conn.execute(
        f"UPDATE order_renewals SET status = ? WHERE reference = ? AND status IN ({marks}) RETURNING id",
        (status, reference, *expect),
    ) as cur:
        return await cur.fetchone() is not None


async def open_of_order(conn: aiosqlite.Connection, order_id: int) -> list[str]:
    """References of the order's renewals still pending or unknown."""
    async with conn.execute(
        "SELECT reference FROM order_renewals WHERE order_id = ? AND status IN ('pending', 'unknown') ORDER BY id",
        (order_id,),
    ) as cur:
        return [r[0] for r in await cur.fetchall()]


async def stale(conn: aiosqlite.Connection, before: str) -> list[str]:
    """Renewals still pending or unknown that started before ``before`` (ISO): to be resolved."""
    async with conn.execute(
        "SELECT reference FROM order_renewals WHERE status IN ('pending', 'unknown') AND created_at < ? ORDER BY id",
        (before,),
    ) as cur:
        return [r[0] for r in await cur.fetchall()]
