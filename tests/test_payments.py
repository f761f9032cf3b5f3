"""Stars top-ups at service level: stored before credited, credited once per charge id, refunds only while
covered and reversible, rejected payments refundable, failed credits retried."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError
from aiogram.methods import RefundStarPayment
from aiogram.types import Chat, SuccessfulPayment, Update
from aiogram.utils.i18n import I18n
from pydantic import ValidationError

from bot.money.billing import Billing
from bot.money.stars import Credit, Payments, Refund, Refusal
from bot.people import People
from bot.settings import Settings
from handlers import payments as handlers
from handlers.notifier import Notifier
from handlers.payment_guard import PaymentGuard
from storage import admin_log, ledger, users
from storage import payments as q
from storage.db import Database
from storage.payments import PaymentStatus
from tests.conftest import TOKEN, add_user

pytestmark = pytest.mark.postgres

USER, ADMIN = 7, 1
METHOD = RefundStarPayment(user_id=USER, telegram_payment_charge_id="x")
LOCALES = Path(__file__).resolve().parent.parent / "locales"
LOCKED = sqlite3.OperationalError("database is locked")


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
async def test_tampered_payment_is_stored_rejected_not_credited(
    db: Database, pay: Payments, payload: str, total: int, currency: str
) -> None:
    result = await credit(pay, "bad", payload, total, currency)
    assert result.outcome is Credit.REJECTED and result.refusal is not None
    assert await balance(db) == 0 and await references(db) == []
    async with db.read() as conn:
        payment = await q.get(conn, "bad")
    assert payment is not None
    assert (payment.status, payment.amount, payment.stars, payment.user_id) == (PaymentStatus.REJECTED, 0, total, USER)
    assert payment.error is not None and str(result.refusal) in payment.error
    assert (await credit(pay, "bad", payload, total, currency)).outcome is Credit.DUPLICATE  # replayed: said once
    await books_balance(db)


async def test_rejected_payment_is_refunded_without_a_debit(db: Database, pay: Payments) -> None:
    await credit(pay, "ok")  # the user's other money is left alone
    await credit(pay, "bad", total=5)
    bot = Refunder()
    result = await pay.refund(bot, admin_id=ADMIN, charge_id="bad")
    assert (result.outcome, result.debited, result.balance) == (Refund.REFUNDED, False, 100)
    assert bot.calls == [(USER, "bad")] and await status(db, "bad") is PaymentStatus.REFUNDED
    assert await balance(db) == 100 and await references(db) == ["stars:ok"]
    async with db.read() as conn:
        actions = [a.action for a in await admin_log.recent(conn)]
    assert "stars_refund_rejected" in actions
    assert (await pay.refund(bot, admin_id=ADMIN, charge_id="bad")).outcome is Refund.ALREADY_REFUNDED
    assert len(bot.calls) == 1
    await books_balance(db)


async def test_rejected_refund_refused_unclear_and_already_done(db: Database, pay: Payments) -> None:
    await credit(pay, "bad", total=5)
    bot = Refunder(
        TelegramBadRequest(METHOD, "Bad Request: CHARGE_NOT_FOUND"),
        TelegramNetworkError(METHOD, "timeout"),
        TelegramBadRequest(METHOD, "Bad Request: CHARGE_ALREADY_REFUNDED"),
    )
    refused = await pay.refund(bot, admin_id=ADMIN, charge_id="bad")
    assert (refused.outcome, refused.debited) == (Refund.FAILED, False) and "CHARGE_NOT_FOUND" in refused.error
    assert await status(db, "bad") is PaymentStatus.REJECTED  # refusable again later
    unclear = await pay.refund(bot, admin_id=ADMIN, charge_id="bad")
    assert (unclear.outcome, unclear.debited) == (Refund.UNCLEAR, False)
    assert await status(db, "bad") is PaymentStatus.REFUNDING
    done = await pay.refund(bot, admin_id=ADMIN, charge_id="bad")  # the retry: Telegram had refunded it
    assert (done.outcome, done.debited) == (Refund.REFUNDED, False)
    assert await status(db, "bad") is PaymentStatus.REFUNDED and len(bot.calls) == 3
    assert await balance(db) == 0 and await references(db) == []
    await books_balance(db)


def fail(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, times: int) -> list[int]:
    """``module.name`` raises "database is locked" on its first ``times`` calls; returns the call counter."""
    real, calls = getattr(module, name), [0]

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] <= times:
            raise LOCKED
        return await real(*args, **kwargs)

    monkeypatch.setattr(module, name, flaky)
    return calls


class Sent:
    """Stands in for the Bot and the Notifier: records what the users and the admins were sent."""

    send_receipt = Notifier.send_receipt  # the Notifier's own receipt, sent through send_message below
    _locale = Notifier._locale

    def __init__(self, db: Database) -> None:
        self.db = db
        self.i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
        self.billing = Billing(db, "USD")
        self.people = People(db)
        self.bot = self
        self.admins: list[str] = []
        self.users: list[tuple[int, str]] = []

    async def tell_admins(
        self, render: Callable[[], str], *, database: bool = True
    ) -> None:  # one admin in the settings
        with self.i18n.context():
            self.admins.append(render())

    async def send_message(self, chat_id: int, text: str) -> None:
        self.users.append((chat_id, text))


class PaidMessage:
    """The ``successful_payment`` message as the handler sees it; its replies land in ``sent.users``."""

    def __init__(self, sent: Sent, charge: str, payload: str = "stars:100", total: int = 100) -> None:
        self.sent = sent
        self.chat = Chat(id=USER, type="private")
        self.successful_payment = SuccessfulPayment(
            currency="XTR",
            total_amount=total,
            invoice_payload=payload,
            telegram_payment_charge_id=charge,
            provider_payment_charge_id="",
        )

    async def answer(self, text: str) -> None:
        self.sent.users.append((USER, text))


async def handle(db: Database, pay: Payments, sent: Sent, settings: Settings, message: PaidMessage) -> None:
    async with db.read() as conn:
        user = await users.get(conn, USER)
    with sent.i18n.context():
        await handlers.paid(message, pay, sent.billing, sent, settings, user)  # type: ignore[arg-type]


async def test_failed_credit_is_kept_and_retried_exactly_once(
    db: Database, pay: Payments, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = Sent(db)
    posts = fail(monkeypatch, ledger, "post", times=2)  # the handler's credit and the first retry hit a lock
    await handle(db, pay, sent, settings, PaidMessage(sent, "ch"))
    async with db.read() as conn:
        kept = await q.get(conn, "ch")
    assert kept is not None and (kept.status, kept.amount) == (PaymentStatus.RECEIVED, 100)
    assert kept.error is not None and "database is locked" in kept.error
    assert await balance(db) == 0 and await references(db) == []
    assert len(sent.admins) == 1 and "ch" in sent.admins[0] and str(USER) in sent.admins[0]
    assert len(sent.users) == 1 and "delayed" in sent.users[0][1]

    await pay.retry(sent)  # type: ignore[arg-type]  # still locked: nothing changes, nobody is told again
    assert await status(db, "ch") is PaymentStatus.RECEIVED and await balance(db) == 0
    await pay.retry(sent)  # type: ignore[arg-type]
    await pay.retry(sent)  # type: ignore[arg-type]
    assert posts[0] == 3  # one failure each for the handler and the first run, one credit; the last run had none
    assert await status(db, "ch") is PaymentStatus.CREDITED
    assert await balance(db) == 100 and await references(db) == ["stars:ch"]
    assert sent.users[1:] == [(USER, "✅ Topped up 1.00 USD. Balance: <b>1.00 USD</b>.")]
    assert len(sent.admins) == 1

    await handle(db, pay, sent, settings, PaidMessage(sent, "ch"))  # the update replayed after the retry
    assert (await credit(pay, "ch")).outcome is Credit.DUPLICATE
    assert await balance(db) == 100 and await references(db) == ["stars:ch"]
    assert len(sent.admins) == 1 and len(sent.users) == 2
    await books_balance(db)


async def test_a_retry_racing_the_first_credit_credits_once(
    db: Database, pay: Payments, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail(monkeypatch, ledger, "post", times=1)
    assert (await credit(pay, "ch")).outcome is Credit.DELAYED
    results = await asyncio.gather(*(pay.credit_received() for _ in range(5)), credit(pay, "ch"))
    assert sum(len(r) for r in results[:5]) == 1 and results[5].outcome is Credit.DUPLICATE
    assert await balance(db) == 100 and await references(db) == ["stars:ch"]
    await books_balance(db)


async def test_a_payment_not_yet_credited_is_not_refunded(
    db: Database, pay: Payments, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail(monkeypatch, ledger, "post", times=1)
    await credit(pay, "ch")
    bot = Refunder()
    assert (await pay.refund(bot, admin_id=ADMIN, charge_id="ch")).outcome is Refund.PENDING
    assert bot.calls == [] and await status(db, "ch") is PaymentStatus.RECEIVED


async def test_unstored_payment_is_logged_and_the_admins_told(
    db: Database, pay: Payments, settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sent = Sent(db)
    fail(monkeypatch, q, "insert", times=1)
    with caplog.at_level(logging.INFO):
        await handle(db, pay, sent, settings, PaidMessage(sent, "lost-1"))
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "lost-1" in errors[0] and str(USER) in errors[0] and "NOT STORED" in errors[0]
    assert TOKEN not in caplog.text
    assert len(sent.admins) == 1 and "lost-1" in sent.admins[0] and "could NOT be stored" in sent.admins[0]
    assert len(sent.users) == 1 and "lost-1" in sent.users[0][1] and "not on your balance" in sent.users[0][1]
    assert await status(db, "lost-1") is None and await balance(db) == 0


def paid_update(charge: str) -> Update:
    message = {
        "message_id": 5,
        "date": 0,
        "chat": {"id": USER, "type": "private"},
        "from": {"id": USER, "is_bot": False, "first_name": "T", "language_code": "en"},
        "successful_payment": {
            "currency": "XTR",
            "total_amount": 100,
            "invoice_payload": "stars:100",
            "telegram_payment_charge_id": charge,
            "provider_payment_charge_id": "",
        },
    }
    return Update.model_validate({"update_id": 1, "message": message})


async def test_guard_keeps_the_trace_of_a_payment_the_database_refused(
    db: Database, pay: Payments, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    sent = Sent(db)
    data = {"payments": pay, "i18n": sent.i18n, "notifier": sent, "settings": settings, "bot": sent}

    async def user_middleware_fails(event: Any, data: dict[str, Any]) -> Any:
        raise LOCKED  # the user's record cannot be written: the payment handler never runs

    with caplog.at_level(logging.INFO):
        assert await PaymentGuard()(user_middleware_fails, paid_update("lost-2"), data) is None
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "lost-2" in errors[0] and str(USER) in errors[0] and "database is locked" in errors[0]
    assert TOKEN not in caplog.text
    assert len(sent.admins) == 1 and "lost-2" in sent.admins[0]
    assert len(sent.users) == 1 and sent.users[0][0] == USER and "lost-2" in sent.users[0][1]

    await credit(pay, "kept")  # stored: the guard claims nothing and lets the usual error handling run

    async def fails_after_storing(event: Any, data: dict[str, Any]) -> Any:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        await PaymentGuard()(fails_after_storing, paid_update("kept"), data)
    assert len(sent.admins) == 1

    async def fine(event: Any, data: dict[str, Any]) -> str:
        return "ok"

    assert await PaymentGuard()(fine, paid_update("x"), data) == "ok"


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
