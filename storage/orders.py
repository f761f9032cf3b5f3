"""Queries on orders and their SMS. The caller owns the transaction."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from storage.rows import Record, fetch_all, fetch_one, fetch_value, returns_row
from storage.timestamps import iso, parse_iso, stored_now  # services import iso and parse_iso from here


class OrderStatus(enum.StrEnum):
    PENDING = "pending"  # paid, the upstream not yet asked (or asked, answer not stored)
    ACTIVE = "active"  # number issued, waiting for an SMS
    CODE_RECEIVED = "code_received"  # at least one SMS delivered; no refund any more
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # refunded
    EXPIRED = "expired"  # refunded: no code in time
    FAILED = "failed"  # refunded: the upstream could not sell
    UNKNOWN = "unknown"  # the buy's outcome is unclear; to be looked up, then resolved


OPEN = (OrderStatus.PENDING, OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED, OrderStatus.UNKNOWN)
REFUNDED = (OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.FAILED)
#: the condition of the partial index ``orders_open``, word for word: SQLite uses a partial index only when the
#: query's WHERE implies it, and a narrower ``status IN (...)`` does not; a query on open orders repeats it
OPEN_SQL = "status IN ('pending', 'active', 'code_received', 'unknown')"


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    user_id: int
    status: OrderStatus
    provider: str
    upstream_id: str | None
    phone: str | None
    country: str
    service: str
    price: int
    cost: int | None
    cost_currency: str | None
    chat_id: int | None
    card_message_id: int | None
    expires_at: datetime
    created_at: str
    product_id: str | None = None
    rent_days: int | None = None
    refundable: bool = True  # no code, no charge; False: paid once delivered (the terms the user confirmed)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


@dataclass(frozen=True, slots=True)
class OrderSms:
    id: int
    text: str
    code: str | None
    delivered: bool


_sms = Record(OrderSms, delivered=bool)
_order = Record(Order, status=OrderStatus, expires_at=parse_iso, refundable=bool)


async def create(
    conn: aiosqlite.Connection,
    *,
    user_id: int,
    request_key: str,
    provider: str,
    country: str,
    service: str,
    price: int,
    chat_id: int | None,
    expires_at: datetime,
    rent_days: int | None = None,
    card_message_id: int | None = None,
    cost: int | None = None,
    cost_currency: str | None = None,
    refundable: bool = True,
) -> Order:
    """A pending order; ``cost`` is the first offer's, what an unclear purchase would be written off at;
    ``refundable``: the terms the user confirmed, kept if the purchase is only found by a lookup."""
    order = await fetch_one(
        conn,
        """
        INSERT INTO orders (user_id, request_key, status, provider, country, service, price, chat_id,
                            expires_at, rent_days, card_message_id, cost, cost_currency, refundable)
        VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *
        """,
        (
            user_id,
            request_key,
            provider,
            country,
            service,
            price,
            chat_id,
            iso(expires_at),
            rent_days,
            card_message_id,
            cost,
            cost_currency,
            int(refundable),
        ),
        _order,
    )
    assert order is not None
    return order


async def by_request_key(conn: aiosqlite.Connection, request_key: str) -> Order | None:
    return await fetch_one(conn, "SELECT * FROM orders WHERE request_key = ?", (request_key,), _order)


async def get(conn: aiosqlite.Connection, order_id: int, user_id: int | None = None) -> Order | None:
    """The order, or None; with ``user_id``, None too when it belongs to someone else."""
    sql, params = "SELECT * FROM orders WHERE id = ?", [order_id]
    if user_id is not None:
        sql += " AND user_id = ?"
        params.append(user_id)
    return await fetch_one(conn, sql, params, _order)


async def update(
    conn: aiosqlite.Connection,
    order_id: int,
    *,
    expect: tuple[OrderStatus, ...],
    **fields: object,
) -> Order | None:
    """Set ``fields`` only while the order is in one of ``expect``; None if it had moved on."""
    if "expires_at" in fields and isinstance(fields["expires_at"], datetime):
        fields["expires_at"] = iso(fields["expires_at"])
    assignments = ", ".join(f"{name} = ?" for name in fields)
    marks = ", ".join("?" for _ in expect)
    return await fetch_one(
        conn,
        f"UPDATE orders SET {assignments}, updated_at = ? WHERE id = ? AND status IN ({marks}) RETURNING *",
        (*fields.values(), stored_now(), order_id, *expect),
        _order,
    )


async def due_orders(conn: aiosqlite.Connection, now: str) -> list[Order]:
    """Active orders (with or without a code) whose time ran out by ``now`` (ISO); only those are read, through
    the index ``orders_due`` (its condition word for word; ``+id`` keeps SQLite from scanning the table in id
    order instead: the few due rows are sorted)."""
    return await fetch_all(
        conn,
        "SELECT * FROM orders WHERE status IN ('active', 'code_received') AND expires_at <= ? ORDER BY +id",
        (now,),
        _order,
    )


async def open_orders(conn: aiosqlite.Connection, statuses: tuple[OrderStatus, ...] = OPEN) -> list[Order]:
    """Orders in ``statuses``, by id; through the index of open orders when they are all open statuses."""
    where = f"status IN ({', '.join('?' for _ in statuses)})"
    if set(statuses) <= set(OPEN):
        where = f"{OPEN_SQL} AND {where}"
    return await fetch_all(conn, f"SELECT * FROM orders WHERE {where} ORDER BY id", statuses, _order)


async def for_user(conn: aiosqlite.Connection, user_id: int, limit: int = 10) -> list[Order]:
    return await fetch_all(
        conn, "SELECT * FROM orders WHERE user_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit), _order
    )


def fingerprint(text: str, received_at: str | None) -> str:
    return hashlib.sha256(f"{received_at or ''}\x00{text}".encode()).hexdigest()[:32]


async def add_sms(
    conn: aiosqlite.Connection, order_id: int, text: str, code: str | None, sender: str | None, fp: str
) -> bool:
    """Store an SMS once; False when this fingerprint was already stored."""
    return await returns_row(
        conn,
        "INSERT INTO order_sms (order_id, text, code, sender, fingerprint) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (order_id, fingerprint) DO NOTHING RETURNING id",
        (order_id, text, code, sender, fp),
    )


async def sms_of(conn: aiosqlite.Connection, order_id: int) -> list[OrderSms]:
    return await fetch_all(
        conn, "SELECT id, text, code, delivered FROM order_sms WHERE order_id = ? ORDER BY id", (order_id,), _sms
    )


async def mark_delivered(conn: aiosqlite.Connection, sms_id: int) -> None:
    await conn.execute("UPDATE order_sms SET delivered = 1 WHERE id = ?", (sms_id,))


async def with_undelivered_sms(conn: aiosqlite.Connection) -> list[Order]:
    return await fetch_all(
        conn,
        "SELECT * FROM orders WHERE id IN (SELECT order_id FROM order_sms WHERE delivered = 0)"
        " AND user_id NOT IN (SELECT id FROM users WHERE is_blocked = 1) ORDER BY id",
        (),
        _order,
    )


async def owner_of(conn: aiosqlite.Connection, provider: str, upstream_id: str) -> int | None:
    """The order already holding this upstream number, if any."""
    return await fetch_value(
        conn, "SELECT id FROM orders WHERE provider = ? AND upstream_id = ?", (provider, upstream_id)
    )
