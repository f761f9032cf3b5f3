"""Open orders for the real bot to follow: a fake upstream that sold them, the same orders in a fresh database.

Each order is written as a purchase leaves it (the user's top-up and charge in the ledger, the active order,
its upstream purchase record), then backdated to its age. The fake upstream (:mod:`tests.fakes`) holds the
same numbers, so the bot's status reads find them; :meth:`Side.arrive` is an SMS reaching the upstream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bot.orders import settlement
from storage import ledger, users
from storage import orders as order_rows
from storage.db import Database
from storage.orders import OrderStatus
from storage.timestamps import iso
from tests.fakes.smsactivate import FakeActivation, FakeSmsActivate
from tests.fakes.smscode import FakeOrder, FakeSMSCode
from tests.fakes.upstream import FakeUpstream

KEY = "bench-upstream-key"
PRICE = 50  # cents a user paid for each number
LIFETIME = timedelta(minutes=20)  # ORDER_TIMEOUT_MINUTES' default


class Side:
    """One upstream as the bot reaches it: its fake, its settings, selling a number and an SMS arriving."""

    name: str
    bulk: bool  # the upstream lists every open order in one read
    fake: FakeUpstream

    def env(self, url: str) -> dict[str, str]:
        raise NotImplementedError

    def sell(self, index: int, expires: datetime) -> tuple[str, str]:
        """Register number ``index`` as sold in the fake; its (upstream id, phone)."""
        raise NotImplementedError

    def arrive(self, upstream_id: str, code: str) -> None:
        raise NotImplementedError


class SmsActivateSide(Side):
    """The sms-activate protocol (``handler_api.php``): a bulk read where the adapter has one."""

    name, bulk = "smsactivate", True

    def __init__(self) -> None:
        self.fake = self.activate = FakeSmsActivate(api_key=KEY)

    def env(self, url: str) -> dict[str, str]:
        return {"SMSACTIVATE_API_KEY": KEY, "SMSACTIVATE_BASE_URL": url}

    def sell(self, index: int, expires: datetime) -> tuple[str, str]:
        sold = FakeActivation(str(2_000_000 + index), f"1555{index:07d}", "wa", 187, Decimal("0.35"))
        self.activate.activations[sold.id] = sold
        return sold.id, sold.phone

    def arrive(self, upstream_id: str, code: str) -> None:
        self.activate.deliver_code(upstream_id, code)


class SMSCodeSide(Side):
    """SMSCode (``/v1``): one request per order checked, no list of open orders."""

    name, bulk = "smscode", False

    def __init__(self) -> None:
        self.fake = self.smscode = FakeSMSCode(api_key=KEY)

    def env(self, url: str) -> dict[str, str]:
        return {"SMSCODE_API_KEY": KEY, "SMSCODE_BASE_URL": f"{url}/v1"}

    def sell(self, index: int, expires: datetime) -> tuple[str, str]:
        sold = FakeOrder(f"ord_{index:06d}", 42, f"+62812{index:07d}", Decimal(3500), expires.replace(microsecond=0))
        self.smscode.orders[sold.order_id] = sold
        return sold.order_id, sold.phone

    def arrive(self, upstream_id: str, code: str) -> None:
        self.smscode.deliver_otp(upstream_id, code, f"Your WhatsApp code is {code}. Do not share it.")


SIDES: dict[str, type[Side]] = {"smsactivate": SmsActivateSide, "smscode": SMSCodeSide}


@dataclass(frozen=True, slots=True)
class Seeded:
    order_id: int
    user_id: int  # also the chat the bot writes to
    upstream_id: str
    created: datetime


async def seed(path: Path, side: Side, count: int, max_age: float, rng: random.Random) -> list[Seeded]:
    """``count`` active orders aged uniformly up to ``max_age`` seconds, one user each, in the database at
    ``path`` (created and migrated here) and in ``side``'s fake."""
    db = await Database.open(path)
    now = datetime.now(UTC)
    seeded: list[Seeded] = []
    try:
        async with db.transaction() as conn:
            for user_id in range(1, count + 1):
                created = now - timedelta(seconds=rng.uniform(0, max_age))
                await users.upsert(conn, user_id, None, "Buyer", "en")
                await ledger.post(conn, user_id=user_id, amount=PRICE, kind="topup", reference=f"seed:{user_id}")
                order = await order_rows.create(
                    conn, user_id=user_id, request_key=f"seed:{user_id}", provider=side.name, country="US",
                    service="whatsapp", price=PRICE, chat_id=user_id, expires_at=created + LIFETIME, cost=35,
                    cost_currency="USD",
                )  # fmt: skip
                charge = f"order:{order.id}:charge"
                await ledger.post(
                    conn, user_id=user_id, amount=-PRICE, kind="purchase", reference=charge, order_id=order.id
                )
                upstream_id, phone = side.sell(user_id, created + LIFETIME)
                active = await order_rows.update(
                    conn, order.id, expect=(OrderStatus.PENDING,), status=OrderStatus.ACTIVE,
                    upstream_id=upstream_id, phone=phone,
                )  # fmt: skip
                assert active is not None
                await settlement.record(conn, active, upstream_id=upstream_id, cost=35, currency="USD")
                seeded.append(Seeded(order.id, user_id, upstream_id, created))
            await conn.executemany(
                "UPDATE orders SET created_at = ?, updated_at = ? WHERE id = ?",
                [(iso(s.created), iso(s.created), s.order_id) for s in seeded],
            )
    finally:
        await db.close()
    return seeded
