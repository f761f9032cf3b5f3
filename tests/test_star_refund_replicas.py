"""Two admins refunding one Stars payment at once: one refundStarPayment call, one debit, no credit back.

On PostgreSQL two stores on one database stand for two replicas, each with its own in-process lock: only
the charge's advisory lock keeps the second from calling Telegram while the first call is open (and then,
refused as a duplicate, reversing the debit of Stars that were returned). On SQLite one process owns the
file and its in-process lock serializes the two.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import RefundStarPayment
from aiogram.utils.i18n import I18n

from bot.app import LOCALES
from bot.money.stars import Payments, Refund
from handlers.admin.texts.stars_refunds import outcome
from storage import ledger
from storage import payments as q
from storage.backends import Store, open_store
from storage.payments import PaymentStatus
from tests import backend
from tests.conftest import add_user

pytestmark = pytest.mark.postgres

USER = 7
ADMINS = (1, 2)
METHOD = RefundStarPayment(user_id=USER, telegram_payment_charge_id="ch")


class SlowRefunder:
    """Telegram whose first refund takes a while and succeeds; any later one of the charge is refused."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0
        self.started = asyncio.Event()

    async def refund_star_payment(self, user_id: int, telegram_payment_charge_id: str) -> bool:
        self.calls += 1
        self.started.set()
        if self.calls > 1:
            raise TelegramBadRequest(method=METHOD, message="Bad Request: REFUND_IN_PROGRESS")
        await asyncio.sleep(self.seconds)
        return True


@pytest.fixture
async def replicas(db: Store, tmp_path: Path, database_url: str | None) -> AsyncIterator[tuple[Payments, Payments]]:
    """Two admins' Payments: on PostgreSQL each on a store of its own (two replicas); on SQLite the one
    service of the one process that may open the file, as the bot has it."""
    await add_user(db, USER)
    first = Payments(db, [100], rate=1)
    await first.credit(user_id=USER, charge_id="ch", payload="stars:100", currency="XTR", total_amount=100)
    if database_url is None:
        yield first, first
        return
    other = await open_store(tmp_path / "unused.sqlite3", database_url)
    try:
        yield first, Payments(other, [100], rate=1)
    finally:
        await other.close()


async def books(db: Store) -> tuple[int, list[str], PaymentStatus | None]:
    """The user's balance, the ledger's references and the payment's status."""
    async with db.read() as conn:
        async with conn.execute("SELECT balance FROM users WHERE id = ?", (USER,)) as cur:
            (balance,) = await cur.fetchone()  # type: ignore[misc]
        async with conn.execute("SELECT reference FROM ledger ORDER BY id") as cur:
            references = [row[0] for row in await cur.fetchall()]
        payment = await q.get(conn, "ch")
    return balance, references, payment.status if payment else None


async def both(replicas: tuple[Payments, Payments], bot: SlowRefunder) -> list[Refund]:
    """The first admin's refund, and the second's once the first one's API call is open."""
    first = asyncio.create_task(replicas[0].refund(bot, admin_id=ADMINS[0], charge_id="ch"))
    await asyncio.wait_for(bot.started.wait(), 10)
    second = await replicas[1].refund(bot, admin_id=ADMINS[1], charge_id="ch")
    return [(await first).outcome, second.outcome]


async def test_simultaneous_refunds_call_telegram_once_and_debit_once(
    db: Store, replicas: tuple[Payments, Payments]
) -> None:
    bot = SlowRefunder(1.0)
    outcomes = await both(replicas, bot)
    assert outcomes == [Refund.REFUNDED, Refund.ALREADY_REFUNDED]
    assert bot.calls == 1
    assert await books(db) == (0, ["stars:ch", "stars:ch:refund"], PaymentStatus.REFUNDED)


@pytest.mark.skipif(not backend.ON_POSTGRES, reason="one SQLite process: its in-process lock waits, never busy")
async def test_a_refund_still_running_elsewhere_is_reported_not_repeated(
    db: Store, replicas: tuple[Payments, Payments]
) -> None:
    replicas[1].refund_wait = 0.3
    bot = SlowRefunder(2.0)
    first = asyncio.create_task(replicas[0].refund(bot, admin_id=ADMINS[0], charge_id="ch"))
    await asyncio.wait_for(bot.started.wait(), 10)
    busy = await replicas[1].refund(bot, admin_id=ADMINS[1], charge_id="ch")
    assert (busy.outcome, busy.debited) == (Refund.BUSY, True)
    with I18n(path=LOCALES, default_locale="en", domain="messages").context():
        told = outcome(busy, "ch", str)
    assert told.startswith("Another /refund_stars of <code>ch</code> is still running")  # not Telegram's "unclear"
    assert busy.payment is not None and busy.payment.status is PaymentStatus.REFUNDING
    assert (await first).outcome is Refund.REFUNDED and bot.calls == 1
    assert await books(db) == (0, ["stars:ch", "stars:ch:refund"], PaymentStatus.REFUNDED)


@pytest.mark.skipif(not backend.ON_POSTGRES, reason="needs two replicas on one database")
async def test_a_refunding_row_left_by_a_crash_is_retried_by_one_replica(
    db: Store, replicas: tuple[Payments, Payments]
) -> None:
    """A replica died after the debit: both admins retry at once; Telegram is asked once, nothing reversed."""
    async with db.transaction() as conn:  # what the crashed replica left: debit posted, 'refunding'
        reference = q.refund_reference("ch", 1)
        assert await ledger.post(conn, user_id=USER, amount=-100, kind="stars_refund", reference=reference)
        assert await q.move(conn, "ch", PaymentStatus.CREDITED, PaymentStatus.REFUNDING)
    bot = SlowRefunder(1.0)
    outcomes = await both(replicas, bot)
    assert outcomes == [Refund.REFUNDED, Refund.ALREADY_REFUNDED]
    assert bot.calls == 1
    assert await books(db) == (0, ["stars:ch", "stars:ch:refund"], PaymentStatus.REFUNDED)
