"""Reply by SMS (bot/orders/outbound.py) over the real smscartesim adapter and its fake: charged once with
its row, refunded on a refusal, kept unclear (never retried, never refunded) on a lost answer, and
refused before any charge for links, long texts and over the limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.money.pricing import Pricing
from bot.orders.outbound import DAILY_LIMIT, ORDER_LIMIT, Reply, SmsReplies, text_problem
from bot.settings import Settings
from providers.base import Offer
from providers.catalog import Catalog
from providers.guard import GuardedProvider
from providers.smscartesim.client import SmsCartesimProvider
from storage import orders as order_rows
from storage import outbound_sms
from storage.db import Database
from storage.orders import OrderStatus
from storage.timestamps import stored_now
from tests.conftest import add_user
from tests.fakes.smscartesim import FakeSmsCartesim
from tests.order_services import order_service

pytestmark = pytest.mark.postgres

KEY = "sk_outbound_test_key"
USER, START, PRICE = 500, 1_000, 10
SENDER = "+12025550100"
RENTAL = Offer("smscartesim", "whatsapp", "US", 350, "USD", 12, product_id="wa|us", rent_days=7)


@dataclass
class Wired:
    db: Database
    fake: FakeSmsCartesim
    replies: SmsReplies

    async def order(self, *, rent_days: int | None = 7, sender: str | None = SENDER) -> int:
        """An active order holding a number the fake sold, with one SMS from ``sender``."""
        bought = await self.replies.catalog.get("smscartesim").buy(RENTAL)
        phone = bought.phone
        async with self.db.transaction() as conn:
            order = await order_rows.create(
                conn, user_id=USER, request_key=f"k{phone}", provider="smscartesim", country="US",
                service="whatsapp", price=100, chat_id=USER, expires_at=datetime.now(UTC) + timedelta(days=7),
                rent_days=rent_days,
            )  # fmt: skip
            await order_rows.update(
                conn,
                order.id,
                expect=(OrderStatus.PENDING,),
                status=OrderStatus.ACTIVE,
                phone=phone,
                upstream_id=bought.upstream_id,
            )
            if sender is not None:
                await order_rows.add_sms(conn, order.id, "Hi, who is this?", None, sender, f"fp{order.id}")
        return order.id

    async def ledger(self) -> list[tuple[int, str, str]]:
        async with self.db.read() as conn:
            rows = await conn.execute_fetchall(
                "SELECT amount, kind, reference FROM ledger WHERE user_id = ? AND kind LIKE 'outbound%' ORDER BY id",
                (USER,),
            )
        return [tuple(r) for r in rows]  # type: ignore[misc]

    async def rows(self, order_id: int) -> list[outbound_sms.OutboundSms]:
        async with self.db.read() as conn:
            return await outbound_sms.of_order(conn, order_id)


@pytest.fixture
async def wired(db: Database, settings: Settings) -> AsyncIterator[Wired]:
    fake = FakeSmsCartesim(api_key=KEY)
    fake.rentals[("wa", "us")] = 7
    guarded = GuardedProvider(SmsCartesimProvider(KEY, transport=fake), rate=1000, failures=100, cooldown=1)
    catalog = Catalog([guarded])
    orders = order_service(db, catalog, Pricing(settings), timedelta(minutes=20))
    await add_user(db, USER, START)
    yield Wired(db, fake, SmsReplies(orders, PRICE))
    await guarded.close()


async def test_a_reply_is_charged_once_and_kept(wired: Wired) -> None:
    order_id = await wired.order()
    result = await wired.replies.send(order_id, USER, "Hello back", "tap1")
    assert result.outcome is Reply.SENT and result.recipient == SENDER
    assert wired.fake.messages[0]["to"] == SENDER and wired.fake.messages[0]["text"] == "Hello back"
    rows = await wired.rows(order_id)
    assert [(r.status, r.price, r.upstream_id, r.recipient) for r in rows] == [("sent", PRICE, "msg_1", SENDER)]
    assert await wired.ledger() == [(-PRICE, "outbound_sms", f"outbound_sms:{rows[0].id}")]
    again = await wired.replies.send(order_id, USER, "Hello back", "tap1")  # the same Send tapped twice
    assert again.outcome is Reply.DUPLICATE and len(wired.fake.messages) == 1 and len(await wired.ledger()) == 1


@pytest.mark.parametrize("text", ["see http://x.io", "www.example", "join t.me/abc", "visit Example.COM now", ""])
async def test_links_and_empty_texts_are_refused_before_any_charge(wired: Wired, text: str) -> None:
    order_id = await wired.order()
    result = await wired.replies.send(order_id, USER, text, "tap")
    assert result.outcome in (Reply.LINK, Reply.EMPTY)
    assert not await wired.ledger() and not await wired.rows(order_id) and not wired.fake.messages


async def test_at_most_three_per_order_refusals_not_counted(wired: Wired) -> None:
    order_id = await wired.order()
    wired.fake.fail_next(422, "Invalid phone number.", code="invalid_number")
    assert (await wired.replies.send(order_id, USER, "one", "t0")).outcome is Reply.REFUSED
    for n in range(ORDER_LIMIT):
        assert (await wired.replies.send(order_id, USER, f"msg {n}", f"t{n + 1}")).outcome is Reply.SENT
    over = await wired.replies.send(order_id, USER, "one more", "t9")
    assert over.outcome is Reply.ORDER_LIMIT and over.limit == ORDER_LIMIT
    assert len(wired.fake.messages) == ORDER_LIMIT
    assert sum(a for a, _, _ in await wired.ledger()) == -PRICE * ORDER_LIMIT


async def test_daily_limit_counts_every_order_of_the_user(wired: Wired) -> None:
    first = await wired.order()
    async with wired.db.transaction() as conn:
        for n in range(DAILY_LIMIT):
            sms_id = await outbound_sms.add(conn, order_id=first, user_id=USER, recipient=SENDER, text=f"{n}", price=0)
            await outbound_sms.move(conn, sms_id, "sent")
    second = await wired.order()
    assert (await wired.replies.send(second, USER, "hi", "t")).outcome is Reply.DAILY_LIMIT
    assert not wired.fake.messages


async def test_a_refusal_is_refunded(wired: Wired) -> None:
    order_id = await wired.order()
    wired.fake.fail_next(402, "Insufficient balance.")
    result = await wired.replies.send(order_id, USER, "hi", "t")
    assert result.outcome is Reply.REFUSED
    [row] = await wired.rows(order_id)
    assert row.status == "refused" and "Insufficient" in (row.error or "")
    assert await wired.ledger() == [
        (-PRICE, "outbound_sms", f"outbound_sms:{row.id}"),
        (PRICE, "outbound_sms_refund", f"outbound_sms_refund:{row.id}"),
    ]


@pytest.mark.parametrize("arm", ["timeout", "502", "unreadable"])
async def test_an_unclear_answer_is_kept_not_refunded_not_retried(wired: Wired, arm: str) -> None:
    order_id = await wired.order()
    {"timeout": wired.fake.raise_next, "502": wired.fake.html_next, "unreadable": lambda: wired.fake.empty_next(200)}[
        arm
    ]()
    before = len(wired.fake.requests)
    result = await wired.replies.send(order_id, USER, "hi", "t")
    assert result.outcome is Reply.UNCLEAR
    assert len(wired.fake.requests) == before + 1  # sent once
    [row] = await wired.rows(order_id)
    assert row.status == "unclear" and row.error
    assert await wired.ledger() == [(-PRICE, "outbound_sms", f"outbound_sms:{row.id}")]


async def test_who_may_reply_and_to_whom(wired: Wired, db: Database) -> None:
    one_off = await wired.order(rent_days=None)
    assert (await wired.replies.prepare(one_off, USER)).outcome is Reply.UNSUPPORTED
    nameless = await wired.order(sender="WhatsApp")
    assert (await wired.replies.prepare(nameless, USER)).outcome is Reply.NO_RECIPIENT
    ready = await wired.replies.prepare(await wired.order(), USER)
    assert ready.outcome is Reply.READY and ready.recipient == SENDER and ready.price == PRICE
    assert (await wired.replies.prepare(nameless, USER + 1)).outcome is Reply.NOT_FOUND
    off = SmsReplies(wired.replies.orders, None)
    assert (await off.prepare(nameless, USER)).outcome is Reply.OFF


async def test_short_balance_charges_nothing(wired: Wired) -> None:
    order_id = await wired.order()
    expensive = SmsReplies(wired.replies.orders, START + 1)
    assert (await expensive.send(order_id, USER, "hi", "t")).outcome is Reply.INSUFFICIENT
    assert not await wired.rows(order_id) and not wired.fake.messages


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a" * 160, None),
        ("a" * 161, Reply.TOO_LONG),
        ("€" * 80, None),  # two septets each
        ("€" * 81, Reply.TOO_LONG),
        ("Привет" * 11 + "abcd", None),  # 70 UCS-2 units
        ("Привет" * 11 + "abcde", Reply.TOO_LONG),
        ("Hello. Thanks, 3.50 USD, e.g. fine", None),
        ("ok https://a.b", Reply.LINK),
        ("shop.example.org", Reply.LINK),
    ],
)
def test_one_segment_and_no_links(text: str, problem: Reply | None) -> None:
    assert text_problem(text) is problem


async def test_a_send_cancelled_mid_call_is_kept_unclear_not_refunded(
    wired: Wired, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shutdown (or a bug) mid-send: the charge stays, the row is unclear for the operator, nothing is re-sent."""
    order_id = await wired.order()
    provider = wired.replies.catalog.get("smscartesim")

    async def cancelled(*args: object) -> None:
        raise asyncio.CancelledError

    monkeypatch.setattr(provider, "send_sms", cancelled)
    with pytest.raises(asyncio.CancelledError):
        await wired.replies.send(order_id, USER, "hi", "t")
    [row] = await wired.rows(order_id)
    assert row.status == "unclear" and "CancelledError" in (row.error or "")
    assert await wired.ledger() == [(-PRICE, "outbound_sms", f"outbound_sms:{row.id}")]


async def test_rows_a_stopped_process_left_sending_become_unclear_at_start(wired: Wired, db: Database) -> None:
    order_id = await wired.order()
    long_ago = stored_now(datetime.now(UTC) - timedelta(hours=1))
    async with db.transaction() as conn:
        old = await outbound_sms.add(conn, order_id=order_id, user_id=USER, recipient=SENDER, text="a", price=PRICE)
        await conn.execute("UPDATE outbound_sms SET created_at = ? WHERE id = ?", (long_ago, old))
        fresh = await outbound_sms.add(conn, order_id=order_id, user_id=USER, recipient=SENDER, text="b", price=PRICE)
    assert await wired.replies.settle_interrupted() == 1
    statuses = {row.id: row.status for row in await wired.rows(order_id)}
    assert statuses == {old: "unclear", fresh: "sending"}  # a send still in flight is left alone
