"""The operator's panel at service level: statistics, bans, prices, upstream switches and alerts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiogram.utils.i18n import I18n

from bot.money.audit import WriteOffs
from bot.money.pricing import Pricing
from bot.operator.accounts import AdminUsers
from bot.operator.prices import PriceAdmin, parse_markup
from bot.operator.stats import Stats
from bot.operator.upstreams import Upstreams, apply_saved
from bot.settings import Settings
from handlers.admin.texts import stats as texts
from handlers.notifier import Notifier
from providers.base import Balance, Offer
from providers.catalog import Catalog
from providers.demo import DemoProvider
from providers.errors import Unauthorized
from providers.guard import Breaker, GuardedProvider
from providers.money import format_minor
from storage import admin_log, purchases, users
from storage.db import Database
from storage.orders import iso
from storage.purchases import Outcome, WriteOff
from tests.conftest import add_user

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
LOCALES = Path(__file__).resolve().parent.parent / "locales"


async def _seen(db: Database, user_id: int, ago: timedelta, blocked: bool = False) -> None:
    await add_user(db, user_id)
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE users SET last_seen_at = ?, is_blocked = ? WHERE id = ?", (iso(NOW - ago), int(blocked), user_id)
        )


async def _order(
    db: Database,
    user_id: int,
    provider: str,
    service: str,
    country: str,
    status: str,
    price: int,
    cost: int | None,
    currency: str | None,
    ago: timedelta,
    sms_after: tuple[int, ...] = (),
    refundable: bool = True,
) -> int:
    created = NOW - ago
    async with db.transaction() as conn:
        async with conn.execute(
            """
            INSERT INTO orders (user_id, request_key, status, provider, country, service, price, cost,
                                cost_currency, created_at, expires_at, refundable)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
            """,
            (
                user_id,
                f"k{ago}{status}{provider}",
                status,
                provider,
                country,
                service,
                price,
                cost,
                currency,
                iso(created),
                iso(created + timedelta(minutes=20)),
                int(refundable),
            ),
        ) as cur:
            order_id = (await cur.fetchone())[0]
        for n, seconds in enumerate(sms_after):
            await conn.execute(
                "INSERT INTO order_sms (order_id, text, fingerprint, received_at) VALUES (?, 'x', ?, ?)",
                (order_id, f"f{n}", iso(created + timedelta(seconds=seconds))),
            )
    return order_id


async def test_stats_figures_on_seeded_orders(db: Database, settings: Settings) -> None:
    await _seen(db, 10, timedelta(minutes=5))
    await _seen(db, 11, timedelta(days=3))
    await _seen(db, 12, timedelta(days=30), blocked=True)
    h, d = timedelta(hours=1), timedelta(days=1)
    await _order(db, 10, "demo", "whatsapp", "US", "completed", 59, 45, "USD", h, (30,))
    await _order(db, 10, "demo", "whatsapp", "US", "code_received", 59, 45, "USD", 2 * h, (90, 200))
    await _order(db, 10, "demo", "whatsapp", "US", "active", 59, 45, "USD", timedelta(minutes=5))
    await _order(db, 11, "up2", "telegram", "GB", "completed", 100, 5000, "IDR", 3 * d, (10,))
    await _order(db, 11, "demo", "whatsapp", "US", "expired", 59, None, None, 3 * d)
    await _order(db, 10, "demo", "whatsapp", "US", "cancelled", 59, None, None, 10 * d)
    await _order(db, 12, "up2", "telegram", "GB", "completed", 80, 10, "XYZ", 10 * d, (60,))

    report = await Stats(db, Pricing(settings)).report(NOW)

    u = report.users
    assert (u.total, u.active_day, u.active_week, u.blocked) == (3, 1, 2, 1)
    assert report.orders["today"] == {"completed": 1, "code_received": 1, "active": 1}
    assert report.orders["week"] == {"completed": 2, "code_received": 1, "active": 1, "expired": 1}
    assert report.orders["all"]["completed"] == 3 and report.orders["all"]["cancelled"] == 1
    assert sum(report.orders["all"].values()) == 7
    money = report.money
    assert (money["today"].revenue, money["today"].cost, money["today"].margin) == (118, 90, 28)
    # 5000 IDR = 0.3105 USD, rounded up to 32 cents; the XYZ order has no rate and is counted apart
    assert (money["week"].revenue, money["week"].cost, money["week"].margin) == (218, 122, 96)
    # these orders are from before purchases were recorded: each counts its own cost
    assert (money["all"].revenue, money["all"].cost, money["all"].unknown_cost) == (298, 122, 1)
    assert (money["all"].unpriced_revenue, money["all"].margin) == (80, 298 - 80 - 122)
    demo, up2 = report.by_provider
    assert (demo.key, demo.orders, demo.with_code, demo.share, demo.median_seconds) == ("demo", 4, 2, 50, 60)
    assert (up2.key, up2.orders, up2.with_code, up2.share, up2.median_seconds) == ("up2", 2, 2, 100, 35)
    assert [(q.key, q.median_seconds) for q in report.by_service] == [("whatsapp", 60), ("telegram", 35)]
    assert [(q.key, q.with_code) for q in report.by_country] == [("US", 2), ("GB", 2)]
    with I18n(path=LOCALES, default_locale="en", domain="messages").context():
        text = texts.stats(report, lambda amount: f"{format_minor(amount, 'USD')} USD")
    assert "code received: 1 / 1 / 1" in text.splitlines() and "code_received" not in text  # a label, not the value
    assert "Left out of the margin: 0.80 USD from 1 sale whose cost is not known" in text.splitlines()


async def _bought(
    db: Database,
    order_id: int,
    cost: int | None,
    currency: str | None,
    outcome: Outcome,
    reason: WriteOff | None = None,
) -> None:
    async with db.transaction() as conn:
        async with conn.execute("SELECT user_id, provider FROM orders WHERE id = ?", (order_id,)) as cur:
            user_id, provider = await cur.fetchone()
        record = await purchases.record(
            conn,
            order_id=order_id,
            user_id=user_id,
            provider=provider,
            upstream_id=f"up{order_id}",
            cost=cost,
            cost_currency=currency,
        )
        assert record is not None and await purchases.settle(conn, record.id, outcome, reason)


async def test_stats_count_write_offs_by_upstream_and_user_in_the_margin(db: Database, settings: Settings) -> None:
    for user in (10, 11, 12):
        await add_user(db, user)
    h, d = timedelta(hours=1), timedelta(days=1)
    sold = await _order(db, 10, "alpha", "whatsapp", "US", "completed", 100, None, None, h, (30,))
    await _bought(db, sold, 40, "USD", Outcome.SOLD)
    given_back = await _order(db, 10, "alpha", "whatsapp", "US", "cancelled", 100, None, None, h)
    await _bought(db, given_back, 500, "USD", Outcome.UPSTREAM_REFUNDED)  # costs nothing
    written_off = [  # (user, upstream, service, country, status, age, cost, currency, why)
        (10, "alpha", "whatsapp", "US", "expired", h, 30, "USD", WriteOff.NO_CANCEL),
        (11, "beta", "telegram", "GB", "cancelled", 3 * d, 100, "EUR", WriteOff.CANCEL_FAILED),
        (11, "beta", "telegram", "GB", "expired", 10 * d, 20, "USD", WriteOff.CANCEL_REFUSED),
        (12, "beta", "telegram", "GB", "failed", 10 * d, None, None, WriteOff.UNCLEAR),
    ]
    for user, upstream, service, country, status, age, cost, currency, why in written_off:
        order = await _order(db, user, upstream, service, country, status, 100, None, None, age)
        await _bought(db, order, cost, currency, Outcome.WRITTEN_OFF, why)
    kept = await _order(db, 11, "alpha", "whatsapp", "US", "expired", 150, None, None, 10 * d, refundable=False)
    await _bought(db, kept, 60, "USD", Outcome.SOLD)  # non-refundable: the price is kept

    report = await Stats(db, Pricing(settings)).report(NOW)

    today, week, everything = (report.money[p] for p in ("today", "week", "all"))
    assert (today.revenue, today.cost, today.margin) == (100, 40 + 30, 30)
    assert (week.revenue, week.cost, week.margin) == (100, 40 + 30 + 108, 100 - 178)  # 1.00 EUR = 1.08 USD
    assert (everything.revenue, everything.cost, everything.margin) == (250, 178 + 20 + 60, 250 - 258)
    assert (everything.unknown_cost, everything.upstream_refunded) == (1, 1)
    assert [w.count for w in (today.written_off, week.written_off, everything.written_off)] == [1, 2, 4]
    assert everything.providers() == [("beta", WriteOffs(3, 128, 1)), ("alpha", WriteOffs(1, 30, 0))]
    assert week.by_provider == {"alpha": WriteOffs(1, 30, 0), "beta": WriteOffs(1, 108, 0)}
    assert everything.top_users(5) == [(11, WriteOffs(2, 128, 0)), (10, WriteOffs(1, 30, 0)), (12, WriteOffs(1, 0, 1))]

    with I18n(path=LOCALES, default_locale="en", domain="messages").context():
        lines = texts.stats(report, lambda amount: f"{format_minor(amount, 'USD')} USD").splitlines()
    assert "Upstream cost: 0.70 USD / 1.78 USD / 2.58 USD" in lines
    assert "of which written off: 1 · 0.30 USD / 2 · 1.38 USD / 4 · 1.58 USD" in lines
    assert "Margin: 0.30 USD / -0.78 USD / -0.08 USD" in lines
    assert "Cost unknown: 1 purchase (left out of the cost)" in lines
    assert "beta: 0 · 0.00 USD / 1 · 1.08 USD / 3 · 1.28 USD" in lines
    assert "alpha: 1 · 0.30 USD / 1 · 0.30 USD / 1 · 0.30 USD" in lines
    assert lines.index("user 11: 2 · 1.28 USD") < lines.index("user 10: 1 · 0.30 USD")
    assert "expired: 1 / 1 / 3" in lines and "cancelled: 1 / 2 / 2" in lines


async def test_find_ban_and_unban_are_logged(db: Database) -> None:
    await add_user(db, 42, balance=300)
    admin = AdminUsers(db)
    card = await admin.card("@U42")  # usernames match case-insensitively
    assert card is not None and card.user.id == 42 and card.user.balance == 300
    assert [e.amount for e in card.entries] == [300]
    assert await admin.card("@nobody") is None and await admin.card("999") is None

    assert await admin.set_banned(1, 42, True) is True
    assert await admin.set_banned(1, 42, True) is False  # no change, no second log row
    async with db.read() as conn:
        assert (await users.get(conn, 42)).is_banned  # type: ignore[union-attr]
    assert await admin.set_banned(1, 42, False) is True
    with pytest.raises(LookupError):
        await admin.set_banned(1, 999, True)
    async with db.read() as conn:
        assert not (await users.get(conn, 42)).is_banned  # type: ignore[union-attr]
        log = await admin_log.recent(conn)
    assert [(a.action, a.details) for a in log if a.action in ("ban", "unban")] == [
        ("unban", "user=42"),
        ("ban", "user=42"),
    ]


async def test_markup_and_override_apply_at_once_and_persist(db: Database, settings: Settings) -> None:
    pricing = Pricing(settings)
    offer = Offer("demo", "whatsapp", "US", 45, "USD", 10)
    assert pricing.price(offer) == 59  # 45 + 30 %
    admin = PriceAdmin(db, pricing)
    await admin.set_markup(1, parse_markup("100"))
    assert pricing.price(offer) == 90
    assert await admin.set_price(1, "wa", "us", 99) == ("whatsapp", "US")
    assert pricing.price(offer) == 99
    await admin.set_price(1, "telegram", "GB", 150)

    reloaded = Pricing(settings)
    assert reloaded.price(offer) == 59
    await PriceAdmin(db, reloaded).load()
    assert reloaded.markup == Decimal(100) and reloaded.price(offer) == 99

    await admin.set_price(1, "whatsapp", "US", None)
    assert pricing.price(offer) == 90 and ("whatsapp", "US") not in pricing.overrides
    again = Pricing(settings)
    await PriceAdmin(db, again).load()
    assert again.overrides == {("telegram", "GB"): 150} and again.price(offer) == 90
    async with db.read() as conn:
        actions = [a.action for a in await admin_log.recent(conn)]
    assert actions.count("markup") == 1 and actions.count("price") == 3


@pytest.mark.parametrize("bad", ["", "x", "-1", "1001", "nan", "inf"])
def test_markup_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_markup(bad)


def _guarded(provider: DemoProvider | None = None) -> GuardedProvider:
    return GuardedProvider(provider or DemoProvider(0), rate=100, failures=1, cooldown=60)


async def test_upstream_switch_persists(db: Database, settings: Settings) -> None:
    guarded = _guarded()
    upstreams = Upstreams(db, Catalog([guarded]), Pricing(settings), settings)
    await upstreams.set_enabled(1, "demo", False)
    assert guarded.enabled is False and not guarded.healthy
    (info,) = await upstreams.status()
    assert info.enabled is False and info.balance is None
    with pytest.raises(LookupError):
        await upstreams.set_enabled(1, "nope", False)

    restarted = _guarded()
    await apply_saved(db, Catalog([restarted]))
    assert restarted.enabled is False
    await upstreams.set_enabled(1, "demo", True)
    restarted = _guarded()
    restarted.enabled = False
    await apply_saved(db, Catalog([restarted]))
    assert restarted.enabled is True
    async with db.read() as conn:
        actions = [(a.action, a.details) for a in await admin_log.recent(conn)]
    assert actions[:2] == [("enable", "upstream=demo"), ("disable", "upstream=demo")]


class _Funds(DemoProvider):
    def __init__(self, amount: int | None = 100_000) -> None:
        super().__init__(0)
        self.amount = amount

    async def balance(self) -> Balance:
        if self.amount is None:
            raise Unauthorized("key revoked", provider=self.name)
        return Balance(self.amount, "USD")


class _Admins:
    alert = Notifier.alert  # the Notifier's own alert text, told to the one admin below

    def __init__(self) -> None:
        self.i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
        self.sent: list[str] = []
        self.reachable = True  # False: Telegram unreachable, nobody got it (Notifier.tell_admins says False)

    async def tell_admins(self, render: Callable[[], str], *, database: bool = True) -> bool:
        with self.i18n.context():
            text = render()
        if self.reachable:
            self.sent.append(text)
        return self.reachable


def _watching(db: Database, settings: Settings, funds: _Funds) -> Upstreams:
    """One replica's (or process's) Upstreams over ``funds``, with a guarded provider of its own."""
    return Upstreams(db, Catalog([_guarded(funds)]), Pricing(settings), settings)


async def test_alerts_fire_once_per_transition(db: Database, settings: Settings) -> None:
    funds, clock = _Funds(), [0.0]
    guarded = _guarded(funds)
    guarded.breaker = Breaker(1, 60, clock=lambda: clock[0])
    upstreams = Upstreams(db, Catalog([guarded]), Pricing(settings), settings)
    admins = _Admins()

    await upstreams.check(admins)  # type: ignore[arg-type]
    assert admins.sent == []
    funds.amount = 400  # 4.00 USD, under the default 5.00
    await upstreams.check(admins)  # type: ignore[arg-type]
    await upstreams.check(admins)  # type: ignore[arg-type]
    assert len(admins.sent) == 1 and "demo" in admins.sent[0] and "4.00 USD" in admins.sent[0]
    funds.amount = None  # failing: the breaker opens; the low balance is not re-announced
    await upstreams.check(admins)  # type: ignore[arg-type]
    await upstreams.check(admins)  # type: ignore[arg-type]
    assert len(admins.sent) == 2 and "failing" in admins.sent[1] and "key revoked" in admins.sent[1]
    clock[0] = 61.0  # cool-down over; the upstream answers again with money
    funds.amount = 100_000
    await upstreams.check(admins)  # type: ignore[arg-type]
    assert len(admins.sent) == 2
    funds.amount = 100  # a new drop is a new transition
    await upstreams.check(admins)  # type: ignore[arg-type]
    await upstreams.check(admins)  # type: ignore[arg-type]
    assert len(admins.sent) == 3 and "1.00 USD" in admins.sent[2]


async def test_an_alert_told_is_not_told_again_by_the_next_holder_of_the_job(db: Database, settings: Settings) -> None:
    """The alert job runs on one replica at a time and moves when it dies (or the bot restarts): what the
    admins were told is in the database, not in the process that told them."""
    funds, admins = _Funds(400), _Admins()  # under the 5.00 USD threshold
    first = _watching(db, settings, funds)
    await first.check(admins)  # type: ignore[arg-type]
    assert len(admins.sent) == 1

    second = _watching(db, settings, funds)  # another replica's
    await second.check(admins)  # type: ignore[arg-type]
    assert len(admins.sent) == 1  # still low: already told
    funds.amount = 100_000
    await second.check(admins)  # type: ignore[arg-type]
    funds.amount = 300  # low again: a new transition, told by whoever holds the job
    await first.check(admins)  # type: ignore[arg-type]
    assert len(admins.sent) == 2 and "3.00 USD" in admins.sent[1]


async def test_an_alert_nobody_got_is_sent_again_at_the_next_check(db: Database, settings: Settings) -> None:
    funds, admins = _Funds(400), _Admins()
    admins.reachable = False
    upstreams = _watching(db, settings, funds)
    await upstreams.check(admins)  # type: ignore[arg-type]
    assert admins.sent == []
    admins.reachable = True
    await upstreams.check(admins)  # type: ignore[arg-type]
    await upstreams.check(admins)  # type: ignore[arg-type]
    assert len(admins.sent) == 1 and "4.00 USD" in admins.sent[0]


async def test_an_upstream_disabled_on_another_replica_raises_no_alert_here(db: Database, settings: Settings) -> None:
    funds, admins = _Funds(400), _Admins()
    here, there = _watching(db, settings, funds), _watching(db, settings, funds)
    await there.set_enabled(1, "demo", False)  # tapped on the other replica: this one's provider still enabled
    await here.check(admins)  # type: ignore[arg-type]
    assert admins.sent == []
