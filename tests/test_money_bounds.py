"""Bounded money (#9): typed amounts are parsed strictly and held to MAX_AMOUNT, the database refuses a
float or an out-of-range amount itself, and an upstream's absurd price is never offered."""

from __future__ import annotations

import itertools
import logging
import sqlite3
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import aiosqlite
import asyncpg
import pytest
from pydantic import ValidationError

from bot.money.billing import Billing
from bot.money.pricing import Pricing
from bot.money.promos import Promos, parse_count
from bot.operator.prices import PriceAdmin, parse_key, parse_markup
from bot.settings import Settings
from providers.base import Offer
from providers.catalog import Catalog
from providers.money import MONEY_BOUND, parse_amount, to_minor
from storage import ledger, users
from storage.db import Database
from storage.migrations import MIGRATIONS, migrate
from tests import backend
from tests.conftest import add_user
from tests.order_services import order_service
from tests.test_pricing import Unpriced

pytestmark = pytest.mark.postgres

BAD_AMOUNTS = ["92233720368547758", "1e308", "1e3", "-5", "0.001", "nan", "inf", "0", "+5", "1_000", "٣", "", "5 5"]


@pytest.mark.parametrize("text", BAD_AMOUNTS)
def test_a_typed_amount_is_a_plain_positive_number_within_the_bound(text: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(text, "USD", 100_000_000)


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("5.50", "USD", 550),
        ("5,5", "USD", 550),
        (".5", "USD", 50),
        ("1000000", "USD", 100_000_000),
        ("8500", "IDR", 8500),
    ],
)
def test_plain_amounts_still_parse(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency, 100_000_000) == minor


def test_decimals_are_exact_not_rounded_away() -> None:
    with pytest.raises(ValueError):  # 31 significant digits: a 28-digit context would round it to 1.00
        parse_amount("1.000000000000000000000000000001", "USD")
    with pytest.raises(ValueError):
        parse_amount("1000000.01", "USD", 100_000_000)
    assert parse_amount("9" * 13, "USD") == int("9" * 13) * 100  # no maximum: MONEY_BOUND
    with pytest.raises(ValueError):
        parse_amount("9" * 14, "USD")


def test_to_minor_turns_an_overflow_into_a_value_error() -> None:
    with pytest.raises(ValueError):
        to_minor("1e999999999", "USD")


# -- the database refuses what no bug may store --------------------------------------------------------

MONEY_COLUMNS = [
    ("users", "balance"),
    ("ledger", "amount"),
    ("ledger", "balance_after"),
    ("orders", "price"),
    ("orders", "cost"),
    ("promo_codes", "amount"),
    ("price_overrides", "price"),
    ("payments", "amount"),
    ("order_renewals", "price"),
]


_ids = itertools.count(900)


async def _row(conn: aiosqlite.Connection, table: str, column: str, value: object) -> None:
    """Insert one row into ``table`` with ``column = value`` and every other column valid."""
    rows: dict[str, dict[str, object]] = {
        "users": {"id": next(_ids), "balance": 0},
        "ledger": {"user_id": 1, "amount": 5, "balance_after": 5, "kind": "k", "reference": f"r{column}{value!r}"},
        "orders": {
            "user_id": 1,
            "request_key": f"k{column}{value!r}",
            "status": "active",
            "provider": "p",
            "country": "US",
            "service": "s",
            "price": 5,
            "expires_at": "2030-01-01T00:00:00.000Z",
        },
        "promo_codes": {"code": f"C{column}{value!r}", "amount": 5, "max_uses": 1},
        "price_overrides": {"service": f"s{value!r}", "country": "US", "price": 5},
        "payments": {
            "charge_id": f"c{value!r}",
            "user_id": 1,
            "payload": "p",
            "stars": 1,
            "amount": 5,
            "status": "received",
        },
        "order_renewals": {"order_id": 1, "reference": f"r{value!r}", "days": 1, "price": 5, "status": "pending"},
    }
    row = rows[table] | {column: value}
    await conn.execute(
        f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", tuple(row.values())
    )


def refused(value: object) -> AbstractContextManager[Any]:
    """What the database raises for ``value`` in a money column.

    SQLite: its triggers' "money out of range" for anything but an integer within the bound (a column of
    SQLite takes any type). PostgreSQL: the column's range CHECK for an integer (its BIGINT type takes
    nothing else: the driver refuses a float or a text before it is sent, or the sum overflows the type).
    """
    if not backend.ON_POSTGRES:
        return pytest.raises(sqlite3.IntegrityError, match="money out of range")
    if type(value) is int and abs(value) < 2**63:
        return pytest.raises(sqlite3.IntegrityError, match="violates check constraint")
    return pytest.raises(asyncpg.DataError)


async def _seed(db: Database) -> None:
    await add_user(db, 1)
    async with db.transaction() as conn:
        await _row(conn, "orders", "price", 5)


@pytest.mark.parametrize(("table", "column"), MONEY_COLUMNS)
@pytest.mark.parametrize("value", [1.5, "2.5", MONEY_BOUND + 1, -(MONEY_BOUND + 1), 2**63 - 1, "lots"])
async def test_the_database_refuses_a_float_or_an_out_of_range_amount(
    db: Database, table: str, column: str, value: object
) -> None:
    await _seed(db)
    with refused(value):
        async with db.transaction() as conn:
            await _row(conn, table, column, value)


@pytest.mark.parametrize(("table", "column"), MONEY_COLUMNS)
async def test_the_database_takes_an_integer_up_to_the_bound(db: Database, table: str, column: str) -> None:
    await _seed(db)
    async with db.transaction() as conn:
        await _row(conn, table, column, MONEY_BOUND)
        if not backend.ON_POSTGRES:  # SQLite only: PostgreSQL's driver sends no float to a BIGINT
            await _row(conn, table, column, 2.0)  # an integral REAL is stored as the integer (column affinity)


@pytest.mark.parametrize(
    ("sql", "args"),
    [
        ("UPDATE users SET balance = ? WHERE id = 1", (0.5,)),
        (
            "UPDATE users SET balance = balance + ? + ? WHERE id = 1",
            (2**63 - 1, 2**63 - 1),
        ),  # overflows (a float in SQLite)
        ("UPDATE orders SET price = ?", (MONEY_BOUND + 1,)),
        ("UPDATE orders SET cost = ?", (1.25,)),
        ("UPDATE promo_codes SET amount = ?", (1e300,)),
        ("UPDATE price_overrides SET price = ?", (3.5,)),
        ("UPDATE payments SET amount = ?", (MONEY_BOUND * 10,)),
        ("UPDATE order_renewals SET price = ?", (0.1,)),
    ],
)
async def test_an_update_is_refused_too(db: Database, sql: str, args: tuple[object, ...]) -> None:
    await _seed(db)
    async with db.transaction() as conn:
        for table, column in MONEY_COLUMNS[-4:]:  # one valid row each (promo_codes … order_renewals)
            await _row(conn, table, column, 5)
    with refused(sum(args) if all(type(a) is int for a in args) else args[0]):
        async with db.transaction() as conn:
            await conn.execute(sql, args)


async def test_orders_cost_may_still_be_unknown(db: Database) -> None:
    await _seed(db)
    async with db.transaction() as conn:
        await _row(conn, "orders", "cost", None)
        await conn.execute("UPDATE orders SET cost = NULL")


async def test_a_credit_past_the_bound_is_refused_and_changes_nothing(db: Database) -> None:
    await add_user(db, 10)
    async with db.transaction() as conn:
        await ledger.post(conn, user_id=10, amount=MONEY_BOUND - 5, kind="k", reference="big")
    with pytest.raises(ledger.OutOfRange):
        async with db.transaction() as conn:
            await ledger.post(conn, user_id=10, amount=6, kind="k", reference="over")
    with pytest.raises(ledger.OutOfRange):
        async with db.transaction() as conn:
            await ledger.post(conn, user_id=10, amount=MONEY_BOUND + 1, kind="k", reference="huge")
    with pytest.raises(ledger.InsufficientFunds):  # a debit beyond the balance is still that
        async with db.transaction() as conn:
            await ledger.post(conn, user_id=10, amount=-MONEY_BOUND, kind="k", reference="under")
    async with db.transaction() as conn:
        assert await ledger.post(conn, user_id=10, amount=5, kind="k", reference="to the bound")
    async with db.read() as conn:
        user = await users.get(conn, 10)
        assert await ledger.discrepancies(conn) == []
        assert not await ledger.exists(conn, "over") and not await ledger.exists(conn, "huge")
    assert user is not None and user.balance == MONEY_BOUND


@pytest.mark.skipif(backend.ON_POSTGRES, reason="SQLite's migration 6 (PostgreSQL starts at the v11 baseline)")
async def test_migration_6_applies_to_a_database_with_data(tmp_path: object) -> None:
    path = f"{tmp_path}/old.sqlite3"
    async with aiosqlite.connect(path) as conn:
        conn.row_factory = aiosqlite.Row
        for number, script in enumerate(MIGRATIONS[:5], start=1):
            await conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
        await conn.execute("INSERT INTO users (id, balance) VALUES (1, 0)")
        await conn.commit()
        assert await migrate(conn) == len(MIGRATIONS)
        await ledger.post(conn, user_id=1, amount=250, kind="k", reference="after")
        with pytest.raises(sqlite3.IntegrityError, match="money out of range"):
            await conn.execute("UPDATE users SET balance = 2.5 WHERE id = 1")
        async with conn.execute("SELECT balance FROM users") as cur:
            assert (await cur.fetchone())[0] == 250


async def test_the_balance_still_reads_after_every_refusal(db: Database) -> None:
    await add_user(db, 20, balance=100)
    billing = Billing(db, "USD")
    with pytest.raises(ledger.OutOfRange):
        await billing.admin_adjust(admin_id=1, user_id=20, amount=2**62, reason="x", reference="absurd")
    assert billing.fmt(await billing.balance(20)) == "1.00 USD"


# -- MAX_AMOUNT, and the services hold the bound too ------------------------------------------------------


def test_max_amount_defaults_and_is_validated_at_start() -> None:
    def settings(**values: str) -> Settings:
        return Settings(_env_file=None, bot_token="1:x", **values)  # type: ignore[arg-type]

    assert settings().max_amount_minor == 1_000_000_00
    assert settings(currency="IDR").max_amount_minor == 10_000_000_000  # 16.1 billion rupiah, rounded down
    assert settings(currency="EUR").max_amount_minor == 900_000_00
    assert settings(max_amount="500").max_amount_minor == 500_00
    assert settings(max_amount="").max_amount_minor == 1_000_000_00
    for bad in ("0", "-1", "1e3", "nan", "0.001", "10000000001", "abc"):
        with pytest.raises(ValidationError) as info:
            settings(max_amount=bad)
        assert "max_amount" in str(info.value)


@pytest.mark.parametrize("amount", [2.5, MONEY_BOUND + 1, True, "100"])
async def test_promo_create_refuses_a_non_integer_or_huge_amount(db: Database, amount: object) -> None:
    promos = Promos(db)
    with pytest.raises(ValueError):
        await promos.create(admin_id=1, code="HUGE", amount=amount, max_uses=1)  # type: ignore[arg-type]
    assert await promos.newest() == []


@pytest.mark.parametrize("text", ["0", "-1", "1e3", "1_000", "+5", "٣", "1000001", "x", "00000001"])
def test_uses_and_days_are_plain_whole_numbers_in_range(text: str) -> None:
    with pytest.raises(ValueError):
        parse_count(text, 1_000_000)


def test_uses_and_days_parse() -> None:
    assert parse_count("5", 1_000_000) == 5 and parse_count(" 3650 ", 3650) == 3650


@pytest.mark.parametrize("bad", ["1e3", "12.345", "sNaN", "+5", "1000.01", "٣"])
def test_markup_is_a_plain_number_with_two_decimals_at_most(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_markup(bad)


def test_markup_keeps_plain_input() -> None:
    assert [str(parse_markup(t)) for t in ("35", "12.5", "12,50", "35%", "0", "1000")] == [
        "35",
        "12.5",
        "12.5",
        "35",
        "0",
        "1000",
    ]


@pytest.mark.parametrize(
    ("service", "country"),
    [("x" * 300, "US"), ("a" * 25, "US"), ("what's", "US"), ("whatsapp", "ZZ"), ("whatsapp", "X" * 300), ("wa", "6")],
)
def test_price_key_is_a_catalog_slug_and_an_iso_country(service: str, country: str) -> None:
    with pytest.raises(ValueError):
        parse_key(service, country)


def test_price_key_normalizes_what_it_accepts() -> None:
    assert parse_key("wa", "us") == ("whatsapp", "US")
    assert parse_key("my-svc", "IDN") == ("my_svc", "ID")
    assert parse_key("a" * 24, "uk") == ("a" * 24, "GB")


@pytest.mark.parametrize(("service", "price"), [("x" * 300, 99), ("whatsapp", 1.5), ("whatsapp", MONEY_BOUND + 1)])
async def test_set_price_refuses_and_stores_nothing(
    db: Database, settings: Settings, service: str, price: object
) -> None:
    admin = PriceAdmin(db, Pricing(settings))
    with pytest.raises(ValueError):
        await admin.set_price(1, service, "US", price)  # type: ignore[arg-type]
    assert admin.overrides() == []


# -- an upstream's absurd prices are not offered ---------------------------------------------------------


class Absurd(Unpriced):
    """An upstream whose catalog has -1, 0 and an absurd price next to one sane offer."""

    def __init__(self, name: str, currency: str = "USD") -> None:
        self.name = name
        self.currency = currency
        self.fetches = 0

    async def offers(self, country: str | None = None) -> list[Offer]:
        self.fetches += 1
        absurd = 10**20 if self.currency == "USD" else 92233720368547758
        return [
            Offer(self.name, "whatsapp", "ID", -1, self.currency, 10),
            Offer(self.name, "telegram", "ID", 0, self.currency, 10),
            Offer(self.name, "google", "ID", absurd, self.currency, 10),
            Offer(self.name, "discord", "ID", 1_000_000_01, self.currency, 10),  # 1,000,000.01: just above
            Offer(self.name, "viber", "ID", 45, self.currency, 10),
        ]


async def test_absurd_offers_are_dropped_and_logged_once_per_upstream(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    upstreams = [Absurd("first"), Absurd("second", "IDR")]
    catalog = Catalog(upstreams, ttl=3600)  # type: ignore[list-item]
    orders = order_service(db, catalog, Pricing(settings), timedelta(minutes=20))
    caplog.set_level(logging.WARNING, logger="bot.money.pricing")
    for _ in range(3):
        for upstream in upstreams:
            await catalog.refresh(upstream.name)
        quotes = await orders.quotes("ID")
        assert {q.service: sorted(o.provider for o in q.offers) for q in quotes} == {
            "discord": ["second"],  # 100,000,001 rupiah is about 6,210 USD: under MAX_AMOUNT
            "viber": ["first", "second"],
        }
        for service in ("whatsapp", "telegram", "google"):
            assert await orders.quote("ID", service) is None
    assert all(u.fetches >= 3 for u in upstreams)
    logged = [r.getMessage() for r in caplog.records if r.name == "bot.money.pricing"]
    assert len(logged) == 2, logged
    assert logged[0].startswith("first lists whatsapp in ID at -0.01 USD") and logged[1].startswith("second lists")


async def test_an_absurd_cost_from_a_purchase_is_not_remembered(settings: Settings) -> None:
    pricing = Pricing(settings)
    unpriced = Offer("p", "whatsapp", "ID", None, "USD", 5)
    for cost in (-1, 0, 10**20):
        pricing.note_cost(unpriced, cost, "USD")
        assert pricing.price(unpriced) == 50  # DEFAULT_PRICE, not a price made of the absurd cost
    pricing.note_cost(unpriced, 80, "USD")
    assert pricing.price(unpriced) == 104
