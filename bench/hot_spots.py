"""The measured hot spots of issue 11, one figure line each, through the bot's own code.

- ``users``: what the user middleware costs an unchanged user's update (statements, writes, time) and the
  statements of a whole service tap through the real dispatcher.
- ``response_types``: aiogram's ``Response[T]`` lookup after a garbage collection, once the dispatcher is built.
- ``keyboards``: a full countries page and a services page.
- ``orders``: the poll job's and the expire job's queries over 100,000 orders, 10,000 of them open.
- ``catalog``: one country's and one (country, service)'s offers from 54,000 cached ones.
- ``fsm``: FSM records left after 10,000 chats each sent one update.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiogram.client.session.base import Response
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage
from aiogram.utils.i18n import I18n

from bench.catalog import Instant
from bench.common import median, report
from bot.app import LOCALES
from bot.money.pricing import Quote
from bot.people import People
from handlers import keyboards
from providers.catalog import Catalog
from providers.names import SERVICE_NAMES
from providers.normalize import SMSACTIVATE_COUNTRIES
from storage import orders as order_rows
from storage.db import Database
from storage.orders import OrderStatus, iso
from tests.conftest import add_user
from tests.inprocess import LiveBot, live_bot

RUNS = 200
Clock = Callable[[], float]
ORDERS, OPEN, DUE = 100_000, 10_000, 100


async def _timed_us(call: Callable[[], Awaitable[Any]], runs: int = RUNS, clock: Clock = time.process_time) -> float:
    """The median of ``runs`` calls, in µs of CPU (this process, every thread): steady on a shared machine."""
    samples = []
    for _ in range(runs):
        started = clock()
        await call()
        samples.append(clock() - started)
    return median(samples) * 1e6


async def _traced(db: Database, run: Callable[[], Awaitable[Any]]) -> tuple[int, int]:
    """Statements run and rows changed on the database while ``run`` runs."""
    statements: list[str] = []
    async with db.read() as conn:
        await conn.set_trace_callback(statements.append)
        before = conn.total_changes
    await run()
    async with db.read() as conn:
        await conn.set_trace_callback(None)
        changed = conn.total_changes - before
    return len([s for s in statements if s != "SELECT 1"]), changed


async def users(live: LiveBot) -> None:
    people = People(live.db)
    await people.register(7, "seven", "Seven", "en")
    statements, changed = await _traced(live.db, lambda: people.register(7, "seven", "Seven", "en"))
    register = lambda: people.register(7, "seven", "Seven", "en")  # noqa: E731
    register_cpu_us = await _timed_us(register)
    register_wall_us = await _timed_us(register, clock=time.perf_counter)
    await add_user(live.db, 8, 500)
    await live.say(8, "/start")
    await live.tap(8, "Buy a number")
    await live.tap(8, "United States")
    tap_statements, tap_changed = await _traced(live.db, lambda: live.tap(8, "WhatsApp"))
    report(
        "hot_spots.users",
        update_statements=statements,
        update_rows_written=changed,
        update_register_cpu_us=f"{register_cpu_us:.0f}",
        update_register_wall_us=f"{register_wall_us:.0f}",
        service_tap_statements=tap_statements,
        service_tap_rows_written=tap_changed,
    )


def response_types() -> None:
    """What ``check_response`` pays per call for its ``Response[T]`` once the weak cache may have let go."""
    samples = []
    for method in (SendMessage, EditMessageText, AnswerCallbackQuery) * 10:
        gc.collect()
        started = time.process_time()
        Response[method.__returning__]  # type: ignore[name-defined]
        samples.append(time.process_time() - started)
    report("hot_spots.response_types", lookup_after_gc_cpu_us=f"{median(samples) * 1e6:.0f}")


async def fsm(live: LiveBot) -> None:
    storage = live.dp.fsm.storage
    for chat in range(100_000, 110_000):
        key = StorageKey(bot_id=live.bot.id, chat_id=chat, user_id=chat)
        await storage.get_state(key)  # what the FSM middleware asks on every update
        await storage.get_data(key)
    report("hot_spots.fsm", chats=10_000, records_kept=len(storage.storage))  # type: ignore[attr-defined]


async def keyboard_figures() -> None:
    i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
    codes = sorted(set(SMSACTIVATE_COUNTRIES.values()))[:150]
    names = [*SERVICE_NAMES, *(f"svc{i}" for i in range(60))][:60]
    quotes = [Quote(s, "ID", 25, 100, ()) for s in names]
    with i18n.context():
        country_us = await _timed_us(lambda: asyncio.sleep(0, keyboards.countries(codes, 3)))
        service_us = await _timed_us(lambda: asyncio.sleep(0, keyboards.services("ID", quotes, 2, str)))
    report("hot_spots.keyboards", countries_page_cpu_us=f"{country_us:.0f}", services_page_cpu_us=f"{service_us:.0f}")


async def _seed_orders(db: Database) -> datetime:
    now = datetime.now(UTC)
    closed = (OrderStatus.COMPLETED, OrderStatus.EXPIRED, OrderStatus.CANCELLED)
    rows = []
    for i in range(ORDERS):
        if i >= ORDERS - OPEN:  # the newest orders are the open ones
            status = OrderStatus.CODE_RECEIVED if i % 7 == 0 else OrderStatus.ACTIVE
            due = i % (OPEN // DUE) == 0
            expires = now - timedelta(seconds=1) if due else now + timedelta(minutes=20)
        else:
            status, expires = closed[i % 3], now - timedelta(days=1)
        rows.append((1, f"k{i}", status, str(i), iso(expires)))
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO users (id, balance) VALUES (1, 0)")
        await conn.executemany(
            "INSERT INTO orders (user_id, request_key, status, provider, upstream_id, phone, country, service,"
            " price, expires_at) VALUES (?, ?, ?, 'up', ?, '+10000000000', 'US', 'whatsapp', 50, ?)",
            rows,
        )
    return now


async def _rows(conn: Any, sql: str) -> int:
    """The query alone, in SQLite: its rows counted, none brought into Python."""
    async with conn.execute(f"SELECT count(*) FROM ({sql})") as cur:
        return (await cur.fetchone())[0]


async def _plan(conn: Any, sql: str, params: tuple[Any, ...]) -> str:
    async with conn.execute("EXPLAIN QUERY PLAN " + sql, params) as cur:
        return "; ".join(row[3] for row in await cur.fetchall())


async def order_queries() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "orders.sqlite3")
        now = iso(await _seed_orders(db))
        waiting = (OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED)
        async with db.read() as conn:
            open_ms = await _timed_us(lambda: order_rows.open_orders(conn, waiting), 10) / 1000
            due_ms = await _timed_us(lambda: order_rows.due_orders(conn, now), 10) / 1000
            found = (len(await order_rows.open_orders(conn, waiting)), len(await order_rows.due_orders(conn, now)))
            traced: list[str] = []
            await conn.set_trace_callback(traced.append)
            await order_rows.open_orders(conn, waiting)
            await order_rows.due_orders(conn, now)
            await conn.set_trace_callback(None)
            plans = [await _plan(conn, sql, ()) for sql in traced]
            open_sql_ms, due_sql_ms = [await _timed_us(lambda q=sql: _rows(conn, q), 20) / 1000 for sql in traced]
        await db.close()
    report(
        "hot_spots.orders",
        rows=ORDERS,
        open_orders_cpu_ms=f"{open_ms:.1f}",
        open_sql_cpu_ms=f"{open_sql_ms:.1f}",
        open_found=found[0],
        due_orders_cpu_ms=f"{due_ms:.1f}",
        due_sql_cpu_ms=f"{due_sql_ms:.1f}",
        due_found=found[1],
        plans=" | ".join(plans),
    )


async def catalog_figures() -> None:
    catalog = Catalog([Instant(i) for i in range(6)], ttl=3600)
    await catalog.offers()
    country_us = await _timed_us(lambda: catalog.offers(country="ID"))
    service_us = await _timed_us(lambda: catalog.offers(country="ID", service="whatsapp"))
    in_stock_us = await _timed_us(catalog.countries)  # the country list of /buy
    figures = {"country_cpu_us": country_us, "service_cpu_us": service_us, "countries_in_stock_cpu_us": in_stock_us}
    report("hot_spots.catalog", offers=6 * 150 * 60, **{key: f"{value:.0f}" for key, value in figures.items()})


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with live_bot(Path(tmp)) as live:
            await users(live)
            response_types()
            await fsm(live)
    await keyboard_figures()
    await order_queries()
    await catalog_figures()


if __name__ == "__main__":
    asyncio.run(main())
