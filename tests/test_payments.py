"""Stars top-ups at service level: credited once per charge id, refunds only while covered and reversible."""

from __future__ import annotations

import asyncio

import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError
from aiogram.methods import RefundStarPayment
from pydantic import ValidationError

from bot.payments import Credit, Payments, Refund, Refusal
from bot.settings import Settings
from storage import admin_log, ledger
from storage import payments as q
from storage.db import Database
from storage.payments import PaymentStatus
from tests.conftest import add_user

USER, ADMIN = 7, 1
METHOD = RefundStarPayment(user_id=USER, telegram_payment_charge_id="x")


class Refunder:
    """Stands in for ``Bot.refund_star_payment``; raises ``errors`` in turn, then succeeds."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls: list[tuple[int, str]] = []

    async def refund_star_payment(self, user_id: int, telegram_payment_charge_id: str) -> bool:
        self.calls.append((user_id, telegram_payment_charge_id))
        if self.errors:
            raise self.errors.pop(0)
        return True


@pytest.fixture
async def pay(db: Database) -> Payments:
    await add_user(db, USER)
    return Payments(db, [50, 100, 250], rate=1)


async def credit(pay: Payments, charge: str, payload: str = "stars:100", total: int = 100, currency: str = "XTR"):
    return await pay.credit(user_id=USER, charge_id=charge, payload=payload, currency=currency, total_amount=total)


async def balance(db: Database) -> int:
    async with db.read() as conn:
        async with conn.execute("SELECT balance FROM users WHERE id = ?", (USER,)) as cur:
            row = await cur.fetchone()
    assert row is not None
    return row[0]


async def status(db: Database, charge: str) -> PaymentStatus | None:
    async with db.read() as conn:
        payment = await q.get(conn, charge)
    return payment.status if payment else None


async def references(db: Database) -> list[str]:
    async with db.read() as conn:
        async with conn.execute("SELECT reference FROM ledger WHERE user_id = ? ORDER BY id", (USER,)) as cur:
            return [r[0] for r in await cur.fetchall()]


async def books_balance(db: Database) -> None:
    async with db.read() as conn:
        assert await ledger.discrepancies(conn) == []


def test_pre_checkout_checks(db: Database) -> None:
    pay = Payments(db, [100], rate=1)
    assert pay.check(payload="stars:100", currency="XTR", total_amount=100) is None
    assert pay.check(payload="stars:100", currency="XTR", total_amount=100, banned=True) is Refusal.BANNED
    assert pay.check(payload="stars:77", currency="XTR", total_amount=77) is Refusal.UNKNOWN_PACKAGE
    assert pay.check(payload="gift", currency="XTR", total_amount=100) is Refusal.UNKNOWN_PACKAGE
    assert pay.check(payload="stars:100", currency="USD", total_amount=100) is Refusal.CURRENCY
    assert pay.check(payload="stars:100", currency="XTR", total_amount=99) is Refusal.AMOUNT


async def test_credit_once_per_charge_id(db: Database, pay: Payments) -> None:
    first = await credit(pay, "ch1")
    assert (first.outcome, first.amount, first.balance) == (Credit.CREDITED, 100, 100)
    assert (await credit(pay, "ch1")).outcome is Credit.DUPLICATE  # the same update replayed
    assert await balance(db) == 100
    second = await credit(pay, "ch2", "stars:250", 250)
    assert (second.outcome, second.balance) == (Credit.CREDITED, 350)
    assert await references(db) == ["stars:ch1", "stars:ch2"]
    assert await status(db, "ch1") is PaymentStatus.CREDITED
    await books_balance(db)


async def test_concurrent_replays_credit_once(db: Database, pay: Payments) -> None:
    results = await asyncio.gather(*(credit(pay, "same") for _ in range(10)))
    assert [r.outcome for r in results].count(Credit.CREDITED) == 1
    assert await balance(db) == 100 and await references(db) == ["stars:same"]
    await books_balance(db)


async def test_rate_applies(db: Database) -> None:
    await add_user(db, USER)
    result = await Payments(db, [100], rate=3).credit(
        user_id=USER, charge_id="r", payload="stars:100", currency="XTR", total_amount=100
    )
    assert (result.amount, result.balance) == (300, 300)


@pytest.mark.parametrize(
    ("payload", "total", "currency"),
    [
        ("stars:100", 99, "XTR"),
        ("stars:100", 1000, "XTR"),
        ("stars:77", 77, "XTR"),
        ("x", 100, "XTR"),
        ("stars:100", 100, "USD"),
    ],
)
async def test_tampered_payment_is_not_credited(
    db: Database, pay: Payments, payload: str, total: int, currency: str
) -> None:
    result = await credit(pay, "bad", payload, total, currency)
    assert result.outcome is Credit.REJECTED and result.refusal is not None
    assert await balance(db) == 0 and await status(db, "bad") is None and await references(db) == []


async def test_refund_debits_and_calls_telegram_once(db: Database, pay: Payments) -> None:
    await credit(pay, "ch")
    bot = Refunder()
    result = await pay.refund(bot, admin_id=ADMIN, charge_id="ch")
    assert (result.outcome, result.balance) == (Refund.REFUNDED, 0)
    assert bot.calls == [(USER, "ch")]
    assert await status(db, "ch") is PaymentStatus.REFUNDED
    assert await references(db) == ["stars:ch", "stars:ch:refund"]
    async with db.read() as conn:
        entry = (await ledger.recent(conn, USER, 1))[0]
        actions = [a.action for a in await admin_log.recent(conn)]
    assert (entry.kind, entry.amount) == ("stars_refund", -100) and "stars_refund" in actions
    assert (await pay.refund(bot, admin_id=ADMIN, charge_id="ch")).outcome is Refund.ALREADY_REFUNDED
    assert (await pay.refund(bot, admin_id=ADMIN, charge_id="nope")).outcome is Refund.NOT_FOUND
    assert len(bot.calls) == 1
    await books_balance(db)


async def test_refund_only_while_the_balance_covers_it(db: Database, pay: Payments) -> None:
    await credit(pay, "ch")
    async with db.transaction() as conn:
        await ledger.post(conn, user_id=USER, amount=-60, kind="purchase", reference="spent")
    bot = Refunder()
    result = await pay.refund(bot, admin_id=ADMIN, charge_id="ch")
    assert (result.outcome, result.balance) == (Refund.INSUFFICIENT, 40)
    assert bot.calls == [] and await balance(db) == 40 and await status(db, "ch") is PaymentStatus.CREDITED
    await books_balance(db)


async def test_telegram_refusal_reverses_the_debit(db: Database, pay: Payments) -> None:
    await credit(pay, "ch")
    bot = Refunder(TelegramBadRequest(METHOD, "Bad Request: CHARGE_NOT_FOUND"))
    result = await pay.refund(bot, admin_id=ADMIN, charge_id="ch")
    assert result.outcome is Refund.FAILED and "CHARGE_NOT_FOUND" in result.error
    assert await balance(db) == 100 and await status(db, "ch") is PaymentStatus.CREDITED
    assert await references(db) == ["stars:ch", "stars:ch:refund", "stars:ch:refund:reversal"]
    # a later attempt debits again under a fresh reference, and succeeds
    assert (await pay.refund(bot, admin_id=ADMIN, charge_id="ch")).outcome is Refund.REFUNDED
    assert await balance(db) == 0 and (await references(db))[-1] == "stars:ch:refund:2"
    await books_balance(db)


@pytest.mark.parametrize("failure", [TelegramNetworkError(METHOD, "timeout"), RuntimeError("crash")])
async def test_retry_after_refunding_does_not_debit_twice(db: Database, pay: Payments, failure: BaseException) -> None:
    await credit(pay, "ch")
    bot = Refunder(failure)
    if isinstance(failure, RuntimeError):  # the process dies between the debit and Telegram's answer
        with pytest.raises(RuntimeError):
            await pay.refund(bot, admin_id=ADMIN, charge_id="ch")
    else:
        assert (await pay.refund(bot, admin_id=ADMIN, charge_id="ch")).outcome is Refund.UNCLEAR
    assert await status(db, "ch") is PaymentStatus.REFUNDING and await balance(db) == 0
    result = await pay.refund(bot, admin_id=ADMIN, charge_id="ch")
    assert (result.outcome, result.balance) == (Refund.REFUNDED, 0)
    assert len(bot.calls) == 2 and await references(db) == ["stars:ch", "stars:ch:refund"]
    await books_balance(db)


async def test_already_refunded_at_telegram_counts_as_done(db: Database, pay: Payments) -> None:
    await credit(pay, "ch")
    bot = Refunder(TelegramBadRequest(METHOD, "Bad Request: CHARGE_ALREADY_REFUNDED"))
    assert (await pay.refund(bot, admin_id=ADMIN, charge_id="ch")).outcome is Refund.REFUNDED
    assert await status(db, "ch") is PaymentStatus.REFUNDED and await balance(db) == 0


def test_star_settings() -> None:
    settings = Settings(_env_file=None, bot_token="1:abc", star_packages="250, 50,50", star_rate="2")  # type: ignore[call-arg]
    assert settings.star_packages == [50, 250] and settings.star_rate == 2
    assert Settings(_env_file=None, bot_token="1:abc").star_packages == [50, 100, 250, 500, 1000]  # type: ignore[call-arg]
    for field, value in [("star_packages", "0"), ("star_packages", "many"), ("star_rate", "0")]:
        with pytest.raises((ValidationError, ValueError)) as info:
            Settings(_env_file=None, bot_token="1:abc", **{field: value})  # type: ignore[arg-type]
        assert field in str(info.value)
