"""Random sequences of credits, purchases, codes, cancels, expiries and crashes never break the money rules."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bot.billing import Billing
from bot.orders import OrderService
from bot.outcomes import Outcome
from bot.pricing import Pricing
from bot.settings import Settings
from bot.tracking import PENDING_GRACE, Tracker
from providers.base import Offer, Purchase
from providers.catalog import Catalog
from providers.demo import DemoProvider
from providers.errors import OutOfStock, ProviderError, UnclearResult
from storage import ledger, users
from storage import orders as q
from storage.db import Database
from storage.orders import REFUNDED, OrderStatus

USERS = (201, 202, 203)
ADMIN = 1
#: (country, service) -> which simulated upstream sells it, and what its purchase ends in
GOODS = {
    ("ID", "whatsapp"): Outcome.PLACED,  # demo_fast: the code is there on the first poll
    ("IN", "google"): Outcome.PLACED,
    ("US", "whatsapp"): Outcome.PLACED,  # demo_slow: no code before expiry
    ("GB", "telegram"): Outcome.PLACED,
    ("BR", "whatsapp"): Outcome.UNKNOWN,  # demo_unclear: the buy's answer is lost
    ("DE", "facebook"): Outcome.OUT_OF_STOCK,  # demo_empty: nobody sells, refunded at once
}
LATER = PENDING_GRACE + timedelta(minutes=1)
SEED = 120


class NamedDemo(DemoProvider):
    """The demo upstream under its own name, selling only some countries, optionally failing to buy."""

    def __init__(self, name: str, delay: float, countries: set[str], fail: type[ProviderError] | None = None) -> None:
        super().__init__(sms_delay_seconds=delay)
        self.name = name
        self.countries = countries
        self.fail = fail

    async def offers(self, country: str | None = None) -> list[Offer]:
        return [o for o in await super().offers(country) if o.country in self.countries]

    async def buy(self, offer: Offer) -> Purchase:
        if self.fail is not None:
            raise self.fail("simulated", provider=self.name)
        return await super().buy(offer)


class MoneyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp(prefix="money-"))
        self.settings = Settings(
            _env_file=None,
            bot_token="123456:TEST-TOKEN",
            database_path=self.dir / "bot.sqlite3",
            telegram_api_url="http://127.0.0.1:9",
            markup_percent=30,
            admin_ids=str(ADMIN),
        )  # type: ignore[call-arg]
        self.net_admin = dict.fromkeys(USERS, 0)  # model: what admins credited minus debited, per user
        self.references: list[str] = []
        self.keys: list[str] = []
        self.counter = 0
        self.run(self._start())

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coro)

    async def _start(self) -> None:
        await self._open()
        async with self.db.transaction() as conn:
            for user_id in USERS:
                await users.upsert(conn, user_id, None, "Test", "en")
        for user_id in USERS:  # enough for a few purchases; credits and debits move it from there
            reference = f"seed:{user_id}"
            await self.billing.admin_adjust(
                admin_id=ADMIN, user_id=user_id, amount=SEED, reason="seed", reference=reference
            )
            self.references.append(reference)
            self.net_admin[user_id] += SEED

    async def _open(self) -> None:
        self.db = await Database.open(self.dir / "bot.sqlite3")
        catalog = Catalog(
            [
                NamedDemo("demo_fast", 0, {"ID", "IN"}),
                NamedDemo("demo_slow", 3600, {"US", "GB"}),
                NamedDemo("demo_unclear", 0, {"BR"}, UnclearResult),
                NamedDemo("demo_empty", 0, {"DE"}, OutOfStock),
            ]
        )
        self.orders = OrderService(self.db, catalog, Pricing(self.settings), timedelta(minutes=20))
        self.tracker = Tracker(self.db, self.orders, concurrency=4)
        self.billing = Billing(self.db, "USD")

    def teardown(self) -> None:
        self.run(self.db.close())
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _key(self) -> str:
        self.counter += 1
        return f"k{self.counter}"

    async def _orders(self) -> dict[int, q.Order]:
        async with self.db.read() as conn:
            return {o.id: o for o in await q.open_orders(conn, tuple(OrderStatus))}

    async def _restart(self) -> None:
        """The process died: drop the connection and every in-memory object, start again, resolve."""
        await self.db.close()
        await self._open()
        unclear = (OrderStatus.PENDING, OrderStatus.UNKNOWN)
        open_before = {o.id for o in (await self._orders()).values() if o.status in unclear}
        resolved = await self.tracker.resolve_unclear(now=datetime.now(UTC) + LATER)
        assert {o.id for o in resolved} == open_before
        assert all(o.status is OrderStatus.FAILED for o in resolved)
        assert [o for o in (await self._orders()).values() if o.status in unclear] == []

    @rule(user=st.sampled_from(USERS), amount=st.integers(-300, 400).filter(bool), replay=st.booleans())
    def adjust(self, user: int, amount: int, replay: bool) -> None:
        reference = self.references[-1] if replay and self.references else f"adm:{self._key()}"
        before = self.run(self.billing.balance(user))
        try:
            entry = self.run(
                self.billing.admin_adjust(
                    admin_id=ADMIN, user_id=user, amount=amount, reason="test", reference=reference
                )
            )
        except ledger.InsufficientFunds:
            assert amount < 0 and before + amount < 0
            return
        if reference in self.references:
            assert entry is None  # a replayed reference changes nothing
            return
        assert entry is not None and entry.balance_after == before + amount
        self.references.append(reference)
        self.net_admin[user] += amount

    @rule(
        user=st.sampled_from(USERS),
        goods=st.sampled_from(sorted(GOODS)),
        delta=st.integers(-3, 5),
        taps=st.integers(1, 3),
        reuse=st.booleans(),
    )
    def purchase(self, user: int, goods: tuple[str, str], delta: int, taps: int, reuse: bool) -> None:
        country, service = goods
        key = self.keys[-1] if reuse and self.keys else self._key()
        quote = self.run(self.orders.quote(country, service))
        assert quote is not None
        before = self.run(self.billing.balance(user))

        async def tap() -> Outcome:
            result = await self.orders.place(
                user_id=user,
                chat_id=user,
                request_key=key,
                country=country,
                service=service,
                confirmed=quote.price + delta,
            )
            return result.outcome

        async def taps_at_once() -> list[Outcome]:
            return list(await asyncio.gather(*(tap() for _ in range(taps))))

        outcomes = self.run(taps_at_once())
        if key in self.keys:
            assert outcomes == [Outcome.DUPLICATE] * taps
            return
        if delta < 0:
            expected = Outcome.PRICE_CHANGED
        elif before < quote.price:
            expected = Outcome.INSUFFICIENT
        else:
            expected = GOODS[goods]
        if expected in (Outcome.PRICE_CHANGED, Outcome.INSUFFICIENT):
            assert outcomes == [expected] * taps
            assert self.run(self.billing.balance(user)) == before
            return
        self.keys.append(key)
        assert sorted(outcomes) == sorted([expected] + [Outcome.DUPLICATE] * (taps - 1))

    @rule()
    def codes_arrive(self) -> None:
        changed = self.run(self.tracker.poll_all())
        for order in changed:
            assert order.provider == "demo_fast" and order.status is OrderStatus.CODE_RECEIVED

    @rule(pick=st.integers(0, 10_000), by_owner=st.booleans())
    def cancel(self, pick: int, by_owner: bool) -> None:
        known = self.run(self._orders())
        if not known:
            return
        order = known[sorted(known)[pick % len(known)]]
        user = order.user_id if by_owner else next(u for u in USERS if u != order.user_id)
        result = self.run(self.tracker.actions.cancel(order.id, user))
        if not by_owner:
            assert result.outcome is Outcome.NOT_FOUND
        elif order.status is OrderStatus.ACTIVE:
            assert result.outcome is Outcome.CANCELLED
        elif order.status is OrderStatus.CODE_RECEIVED:
            assert result.outcome is Outcome.HAS_CODE
        else:
            assert result.outcome is Outcome.CLOSED
        after = self.run(self.orders.get(order.id))
        assert after is not None
        assert after.status is (OrderStatus.CANCELLED if result.outcome is Outcome.CANCELLED else order.status)

    @rule(pick=st.integers(0, 10_000))
    def finish(self, pick: int) -> None:
        known = self.run(self._orders())
        if not known:
            return
        order = known[sorted(known)[pick % len(known)]]
        done = self.run(self.tracker.actions.finish(order.id, order.user_id))
        assert done is not None
        if order.status is OrderStatus.CODE_RECEIVED:
            assert done.status is OrderStatus.COMPLETED
        else:
            assert done.status is order.status

    @rule()
    def expiry(self) -> None:
        before = self.run(self._orders())
        self.run(self.tracker.expire_due(now=datetime.now(UTC) + timedelta(days=1)))
        for order in self.run(self._orders()).values():
            was = before[order.id].status
            if was is OrderStatus.CODE_RECEIVED:
                assert order.status is OrderStatus.COMPLETED
            elif was is OrderStatus.ACTIVE:  # a late code is kept (finished next time), else refunded
                fast = order.provider == "demo_fast"
                assert order.status is (OrderStatus.CODE_RECEIVED if fast else OrderStatus.EXPIRED)
            else:
                assert order.status is was

    @rule()
    def resolve(self) -> None:
        self.run(self.tracker.resolve_unclear(now=datetime.now(UTC) + LATER))
        assert all(o.status is not OrderStatus.UNKNOWN for o in self.run(self._orders()).values())

    @rule()
    def restart(self) -> None:
        self.run(self._restart())

    @rule(user=st.sampled_from(USERS), goods=st.sampled_from(sorted(GOODS)))
    def crash_mid_purchase(self, user: int, goods: tuple[str, str]) -> None:
        """The charge and the pending order committed, then the process died before asking the upstream."""
        country, service = goods
        quote = self.run(self.orders.quote(country, service))
        assert quote is not None

        async def charge() -> int | None:
            try:
                async with self.db.transaction() as conn:
                    order = await q.create(
                        conn,
                        user_id=user,
                        request_key=self._key(),
                        provider=quote.offers[0].provider,
                        country=country,
                        service=service,
                        price=quote.price,
                        chat_id=user,
                        expires_at=datetime.now(UTC) + timedelta(minutes=20),
                    )
                    await ledger.post(
                        conn,
                        user_id=user,
                        amount=-quote.price,
                        kind="purchase",
                        reference=f"order:{order.id}:charge",
                        order_id=order.id,
                    )
            except ledger.InsufficientFunds:
                return None
            return order.id

        before = self.run(self.billing.balance(user))
        unclear = sum(
            o.price for o in self.run(self._orders()).values() if o.user_id == user and o.status is OrderStatus.UNKNOWN
        )
        crashed = self.run(charge())
        assert (crashed is not None) is (before >= quote.price)
        self.run(self._restart())
        if crashed is not None:
            assert self.run(self.orders.get(crashed)).status is OrderStatus.FAILED
        assert self.run(self.billing.balance(user)) == before + unclear  # the pending order was refunded

    @rule(picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=4), goods=st.sampled_from(sorted(GOODS)))
    def burst(self, picks: list[int], goods: tuple[str, str]) -> None:
        """Purchases, cancels, polls and an expiry all at once on the one connection."""
        known = self.run(self._orders())
        ids = sorted(known)
        quote = self.run(self.orders.quote(*goods))
        assert quote is not None

        async def together() -> None:
            jobs: list[Coroutine[Any, Any, Any]] = [self.tracker.poll_all()]
            for n, pick in enumerate(picks):
                user = USERS[pick % len(USERS)]
                key = self._key()
                jobs.append(
                    self.orders.place(
                        user_id=user,
                        chat_id=user,
                        request_key=key,
                        country=goods[0],
                        service=goods[1],
                        confirmed=quote.price,
                    )
                )
                order = known[ids[pick % len(ids)]] if ids else None
                if order is not None:
                    jobs.append(self.tracker.actions.cancel(order.id, order.user_id))
                if n == 0 and pick % 3 == 0:
                    jobs.append(self.tracker.expire_due(now=datetime.now(UTC) + timedelta(days=1)))
            await asyncio.gather(*jobs)

        self.run(together())

    @invariant()
    def money_adds_up(self) -> None:
        self.run(self._check())

    async def _check(self) -> None:
        async with self.db.read() as conn:
            async with conn.execute("SELECT id, balance FROM users") as cur:
                balances = {r[0]: r[1] for r in await cur.fetchall()}
            async with conn.execute(
                "SELECT user_id, amount, balance_after, kind, reference, order_id FROM ledger ORDER BY id"
            ) as cur:
                rows = [tuple(r) for r in await cur.fetchall()]
        orders = await self._orders()
        assert set(balances) == set(USERS)
        running = dict.fromkeys(USERS, 0)
        by_reference: dict[str, tuple[Any, ...]] = {}
        for user_id, amount, balance_after, kind, reference, order_id in rows:
            running[user_id] += amount
            assert balance_after == running[user_id] >= 0
            assert reference not in by_reference
            by_reference[reference] = (user_id, amount, kind, order_id)
            if order_id is None:
                assert kind in ("admin_credit", "admin_debit") and reference in self.references
            else:
                assert orders[order_id].user_id == user_id
                assert reference in (f"order:{order_id}:charge", f"order:{order_id}:refund")
        assert len([r for r in rows if r[5] is None]) == len(self.references)
        for user_id in USERS:
            kept = sum(o.price for o in orders.values() if o.user_id == user_id and o.status not in REFUNDED)
            assert balances[user_id] == running[user_id] == self.net_admin[user_id] - kept
            assert balances[user_id] >= 0
        for order in orders.values():
            assert by_reference.get(f"order:{order.id}:charge") == (order.user_id, -order.price, "purchase", order.id)
            refund = by_reference.get(f"order:{order.id}:refund")
            if order.status in REFUNDED:
                assert refund == (order.user_id, order.price, "refund", order.id)
            else:
                assert refund is None
        assert sum(balances.values()) == sum(self.net_admin.values()) - sum(
            o.price for o in orders.values() if o.status not in REFUNDED
        )
        assert await self.billing.reconcile() == []


MoneyMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
TestMoney = MoneyMachine.TestCase
