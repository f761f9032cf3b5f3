"""The metrics: updates by type and their handling time, Bot API calls and errors by method, upstream
requests, poll cycles, broadcasts, and the figures read from the database when /metrics is scraped.

The module counters live for the whole test session, so each test compares before and after."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramForbiddenError, TelegramNetworkError, TelegramRetryAfter
from aiogram.types import Message, Update
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.jobs import Jobs
from bot.orders.polling import PollRun
from bot.runtime.metrics import REGISTRY, MetricsPage, observe_upstream
from bot.runtime.shop_metrics import ShopFigures
from bot.settings import Settings
from handlers.metrics import BotApiMetrics, UpdateMetrics, api_error
from providers.errors import OutOfStock, Unavailable
from providers.guard import GuardedProvider
from storage import ledger
from storage import purchases as purchase_rows
from storage import totals as total_queries
from storage.db import Database
from storage.purchases import Outcome, WriteOff
from tests.conftest import TOKEN, add_user, charged_order
from tests.fakes.telegram import FakeTelegram
from tests.test_broadcast import seed, service, start
from tests.test_guard import OFFER, Flaky

USER = 987_654_321  # distinctive: it must never show up in the metrics
SLOW_HANDLER = 1.1  # seconds a handler sleeps to be timed above the histogram's 1 s bucket


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def update(update_id: int, **event: Any) -> Update:
    return Update.model_validate({"update_id": update_id, **event})


def message(text: str) -> dict[str, Any]:
    chat = {"id": USER, "type": "private"}
    sender = {"id": USER, "is_bot": False, "first_name": "Ann"}
    return {"message_id": 1, "date": 0, "chat": chat, "from": sender, "text": text}


async def test_every_update_is_counted_by_type_and_timed_even_when_its_handler_fails() -> None:
    router = Router()

    @router.message()
    async def echo(msg: Message) -> None:
        if msg.text == "boom":
            raise RuntimeError("handler failed")
        await asyncio.sleep(SLOW_HANDLER)

    dp = Dispatcher()  # no database anywhere: the middleware reads only the update
    dp.update.outer_middleware(UpdateMetrics())
    dp.include_router(router)
    bot = Bot(TOKEN)
    messages, taps = value("smsbot_updates_total", type="message"), value("smsbot_updates_total", type="callback_query")
    timed = value("smsbot_update_handling_seconds_count", type="message")
    fast = value("smsbot_update_handling_seconds_bucket", type="message", le="1.0")

    await dp.feed_update(bot, update(1, message=message("/start")))
    with pytest.raises(RuntimeError):
        await dp.feed_update(bot, update(2, message=message("boom")))
    query = {"id": "q1", "from": message("")["from"], "chat_instance": "c", "data": "x"}
    await dp.feed_update(bot, update(3, callback_query=query))  # no handler for it: counted all the same

    assert value("smsbot_updates_total", type="message") == messages + 2
    assert value("smsbot_updates_total", type="callback_query") == taps + 1
    assert value("smsbot_update_handling_seconds_count", type="message") == timed + 2
    # the /start handler slept past 1 s: its observation lies above the 1 s bucket; the failed one, which
    # returned at once, below it (a bucket wide enough for a busy CI machine's scheduling delays)
    assert value("smsbot_update_handling_seconds_bucket", type="message", le="1.0") == fast + 1
    await bot.session.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.url))
    session.middleware(BotApiMetrics())
    bot = Bot(TOKEN, session=session)
    yield bot
    await bot.session.close()


async def test_bot_api_calls_and_errors_by_method_429s_included(fake: FakeTelegram, bot: Bot) -> None:
    sent, chats = (
        value("smsbot_bot_api_requests_total", method="sendMessage"),
        value("smsbot_bot_api_requests_total", method="sendChatAction"),
    )
    errors = {e: value("smsbot_bot_api_errors_total", method="sendMessage", error=e) for e in ("429", "403", "network")}
    await bot.send_message(USER, "hello")
    fake.inject_error("sendMessage", error_code=429, description="Too Many Requests: retry after 3", retry_after=3)
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(USER, "again")
    fake.block_user(USER)
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(USER, "blocked")
    fake.drop_connection("sendMessage")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(USER + 1, "cut off")
    await bot.send_chat_action(USER + 1, "typing")

    assert value("smsbot_bot_api_requests_total", method="sendMessage") == sent + 4
    assert value("smsbot_bot_api_requests_total", method="sendChatAction") == chats + 1
    for kind in ("429", "403", "network"):
        assert value("smsbot_bot_api_errors_total", method="sendMessage", error=kind) == errors[kind] + 1
    assert value("smsbot_bot_api_errors_total", method="sendChatAction", error="network") == 0


def test_an_unexpected_error_is_other() -> None:
    assert api_error(ValueError("odd")) == "other"


async def test_upstream_requests_are_timed_and_their_errors_counted_by_kind() -> None:
    inner = Flaky()
    guarded = GuardedProvider(inner, rate=1000, failures=5, cooldown=60, observer=observe_upstream)
    reads = value("smsbot_upstream_request_seconds_count", upstream="flaky", operation="balance")
    buys = value("smsbot_upstream_request_seconds_count", upstream="flaky", operation="buy")
    down = value("smsbot_upstream_errors_total", upstream="flaky", kind="unavailable")
    empty = value("smsbot_upstream_errors_total", upstream="flaky", kind="out_of_stock")

    await guarded.balance()
    inner.script = [Unavailable("down", provider="flaky"), Unavailable("down", provider="flaky")]
    with pytest.raises(Unavailable):
        await guarded.balance()  # a read: tried twice, both sent
    inner.script = [OutOfStock("none", provider="flaky")]
    with pytest.raises(OutOfStock):
        await guarded.buy(OFFER)

    assert value("smsbot_upstream_request_seconds_count", upstream="flaky", operation="balance") == reads + 3
    assert value("smsbot_upstream_request_seconds_count", upstream="flaky", operation="buy") == buys + 1
    assert value("smsbot_upstream_errors_total", upstream="flaky", kind="unavailable") == down + 2
    assert value("smsbot_upstream_errors_total", upstream="flaky", kind="out_of_stock") == empty + 1


class PollStub:
    """The tracker's side of a poll run, taking ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def poll_run(self, interval: float) -> PollRun:
        await asyncio.sleep(self.seconds)
        return PollRun(orders=1, checks=1)

    async def undelivered(self) -> list[Any]:
        return []


async def test_each_poll_cycle_is_observed_with_its_duration(settings: Settings) -> None:
    jobs = Jobs(cast(Any, PollStub(0.3)), *cast(Any, (None, None, None, None)), settings)
    cycles = value("smsbot_poll_cycle_seconds_count")
    quick = value("smsbot_poll_cycle_seconds_bucket", le="0.25")
    total = value("smsbot_poll_cycle_seconds_sum")
    await jobs.poll()
    assert value("smsbot_poll_cycle_seconds_count") == cycles + 1
    assert value("smsbot_poll_cycle_seconds_bucket", le="0.25") == quick  # it took 0.3 s
    assert 0.3 <= value("smsbot_poll_cycle_seconds_sum") - total < 2


async def test_broadcast_messages_sent_unreachable_and_failed(db: Database, fake: FakeTelegram, bot: Bot) -> None:
    before = {r: value("smsbot_broadcast_messages_total", result=r) for r in ("sent", "unreachable", "failed")}
    await seed(db, range(5000, 5010))
    fake.block_user(5003)
    fake.inject_error("copyMessage", error_code=400, description="Bad Request: message is too long", chat_id=5007)
    svc = service(bot, db)
    await asyncio.wait_for(svc.wait(await start(svc, fake, bot)), 60)
    after = {r: value("smsbot_broadcast_messages_total", result=r) - before[r] for r in before}
    assert after == {"sent": 8, "unreachable": 1, "failed": 1}


async def shop(db: Database) -> None:
    """Two users (one with money left), three orders at two upstreams: one sold, one cancelled and
    refunded whose purchase was written off, one still open."""
    await add_user(db, USER, balance=1000)
    await add_user(db, USER + 1)
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    plan = [("alpha", 300, "code_received", 200, "USD"), ("beta", 100, "cancelled", 50, "RUB")]
    plan.append(("alpha", 50, "active", 30, "USD"))
    async with db.transaction() as conn:
        for n, (upstream, price, status, cost, currency) in enumerate(plan):
            order = await charged_order(
                conn, user_id=USER, price=price, request_key=f"k{n}", provider=upstream, country="US",
                service="whatsapp", expires_at=expires,
            )  # fmt: skip
            await conn.execute("UPDATE orders SET status = ? WHERE id = ?", (status, order.id))
            bought = await purchase_rows.record(
                conn, order_id=order.id, user_id=USER, provider=upstream, upstream_id=str(n), cost=cost,
                cost_currency=currency,
            )  # fmt: skip
            assert bought is not None
            if status == "code_received":
                await purchase_rows.settle(conn, bought.id, Outcome.SOLD)
            elif status == "cancelled":
                await purchase_rows.settle(conn, bought.id, Outcome.WRITTEN_OFF, WriteOff.NO_CANCEL)
                await ledger.post(
                    conn, user_id=USER, amount=price, kind="refund", reference=f"order:{order.id}:refund",
                    order_id=order.id,
                )  # fmt: skip


async def test_the_totals_queries_aggregate_orders_purchases_refunds_and_money(db: Database, tmp_path: Path) -> None:
    await shop(db)
    async with total_queries.reader(tmp_path / "test.sqlite3") as conn:
        t = await total_queries.totals(conn, total_queries.LedgerTally())
    C = total_queries.Count
    assert t.orders == {"code_received": C(1, 300), "cancelled": C(1, 100), "active": C(1, 50)}
    assert [(g.upstream, g.kind, g.outcome, g.currency, g.rows, g.cost) for g in t.purchases] == [
        ("alpha", "number", "open", "USD", 1, 30),
        ("alpha", "number", "sold", "USD", 1, 200),
        ("beta", "number", "written_off", "RUB", 1, 50),
    ]
    assert t.write_offs == {("beta", "no_cancel"): 1}
    assert t.ledger.refunds == {"beta": C(1, 100)}
    assert t.ledger.by_kind == {"admin_credit": C(1, 1000), "purchase": C(3, -450), "refund": C(1, 100)}
    assert t.balances == total_queries.Balances(users=2, with_balance=1, total=650)
    assert t.balances.total == sum(c.amount for c in t.ledger.by_kind.values())


async def test_the_ledger_is_tallied_once_per_row_reading_only_the_new_ones(db: Database, tmp_path: Path) -> None:
    await shop(db)
    tally = total_queries.LedgerTally()
    path = tmp_path / "test.sqlite3"
    async with total_queries.reader(path) as conn:
        await total_queries.tally_ledger(conn, tally)
        await total_queries.tally_ledger(conn, tally)  # nothing new: nothing added twice
    first = tally.last_id
    await add_user(db, USER + 2, balance=7)  # one more admin_credit row
    async with total_queries.reader(path) as conn:
        await total_queries.tally_ledger(conn, tally)
        with pytest.raises(sqlite3.OperationalError):  # the metrics' connection cannot write
            await conn.execute("DELETE FROM orders")
    assert tally.last_id == first + 1
    assert tally.by_kind["admin_credit"] == total_queries.Count(2, 1007)
    assert tally.by_kind["purchase"] == total_queries.Count(3, -450)


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_the_figures_are_gauges_from_the_database_read_at_most_once_a_ttl(db: Database, tmp_path: Path) -> None:
    await shop(db)
    now = [0.0]
    figures = ShopFigures(db, tmp_path / "test.sqlite3", [], "USD", ttl=10, clock=lambda: now[0])
    registry = CollectorRegistry()
    registry.register(figures)
    await asyncio.gather(*(figures.refresh() for _ in range(5)))  # a scrape storm: one read
    assert figures.reads == 1
    samples = scrape(registry)
    assert samples[("smsbot_orders", (("status", "active"),))] == 1
    assert samples[("smsbot_orders_price_minor", (("currency", "USD"), ("status", "code_received")))] == 300
    purchase = (("kind", "number"), ("outcome", "written_off"), ("upstream", "beta"))
    assert samples[("smsbot_upstream_purchases", purchase)] == 1
    assert samples[("smsbot_upstream_purchase_cost_minor", (("currency", "RUB"), *purchase))] == 50
    assert samples[("smsbot_write_offs", (("reason", "no_cancel"), ("upstream", "beta")))] == 1
    assert samples[("smsbot_refunds_minor", (("currency", "USD"), ("upstream", "beta")))] == 100
    assert samples[("smsbot_ledger_minor", (("currency", "USD"), ("kind", "purchase")))] == -450
    assert samples[("smsbot_balances_minor", (("currency", "USD"),))] == 650
    assert str(USER) not in generate_latest(registry).decode()

    await add_user(db, USER + 2, balance=5)
    now[0] = 9.9
    await figures.refresh()
    assert figures.reads == 1 and scrape(registry)[("smsbot_users", ())] == 2  # still cached
    now[0] = 10.0
    await figures.refresh()
    assert figures.reads == 2 and scrape(registry)[("smsbot_users", ())] == 3
    assert scrape(registry)[("smsbot_ledger_minor", (("currency", "USD"), ("kind", "admin_credit")))] == 1005


async def test_the_breaker_state_is_read_live(db: Database, tmp_path: Path) -> None:
    inner = Flaky()
    guarded = GuardedProvider(inner, rate=1000, failures=1, cooldown=60)
    registry = CollectorRegistry()
    registry.register(ShopFigures(db, tmp_path / "test.sqlite3", [guarded], "USD"))
    key = ("smsbot_upstream_breaker_state", (("upstream", "flaky"),))
    assert scrape(registry)[key] == 0
    inner.script = [Unavailable("down", provider="flaky")]
    with pytest.raises(Unavailable):
        await guarded.buy(OFFER)
    assert scrape(registry)[key] == 1
    guarded.breaker.clock = lambda: float("inf")  # the cool-down is over
    assert scrape(registry)[key] == 0.5


class Broken(ShopFigures):
    async def refresh(self) -> None:
        raise OSError("disk gone")


async def test_the_page_answers_in_prometheus_format_and_survives_a_failed_read(db: Database, tmp_path: Path) -> None:
    await shop(db)
    registry = CollectorRegistry()
    page = MetricsPage(registry)
    app = web.Application()
    page.serve(app)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/metrics")
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "smsbot_orders" not in await response.text()  # no database yet
        page.attach(ShopFigures(db, tmp_path / "test.sqlite3", [], "USD"))
        body = await (await client.get("/metrics")).text()
        assert 'smsbot_orders{status="cancelled"} 1.0' in body
        page.attach(Broken(db, tmp_path, [], "USD"))  # replaces the first
        response = await client.get("/metrics")
        assert response.status == 200 and "smsbot_orders" not in await response.text()
        page.detach()
        assert list(registry.collect()) == []
