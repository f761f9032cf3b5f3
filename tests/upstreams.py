"""Several real adapters over their fakes, each behind a GuardedProvider, selling whatsapp in the US.

Used by ``tests/test_routing.py``: the real OrderService, Tracker, Catalog and Pricing run on top, and
the fakes are configured so that the order of the upstreams' prices is known. Prices a user should see
are computed here independently of :mod:`bot.pricing` (``Fraction`` arithmetic from the fakes' numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from math import ceil

import httpx

from bot.money.pricing import Pricing
from bot.orders.actions import OrderActions
from bot.orders.outcomes import Result
from bot.orders.placing import OrderService
from bot.orders.tracking import Tracker
from bot.settings import Settings
from providers.base import Provider
from providers.catalog import Catalog
from providers.guard import GuardedProvider
from providers.ismscode.client import ISMSCodeProvider
from providers.simsmsbox.client import SimSmsBoxProvider
from providers.smsactivate.client import SmsActivateProvider
from providers.smscode.client import SMSCodeProvider
from storage import ledger
from storage.db import Database
from storage.orders import REFUNDED, OrderStatus
from tests.fakes.ismscode import FakeISMSCode
from tests.fakes.simsmsbox import FakeItem, FakeSimSmsBox
from tests.fakes.smsactivate import FakeSmsActivate
from tests.fakes.smscode import FakeSMSCode
from tests.order_services import order_service

KEY = "routing-test-key"
SERVICE, COUNTRY = "whatsapp", "US"
#: value of one unit in US dollars, as given to Settings and used by :func:`expected_price`
RATES = {"USD": Fraction(1), "IDR": Fraction("0.0000621")}
MARKUP = 30  # percent
DEFAULT_PRICE = 50  # cents: what an unpriced offer (iSMScode) sells at
FAILURES, COOLDOWN = 1, 0.2  # the guard's breaker: opens on the first failure, half-opens after 0.2 s
SA_US = 187  # the sms-activate protocol's country id of the US


def expected_price(amount: str, currency: str, step: int) -> int:
    """A user's price in US cents for an upstream amount in major units: converted and rounded up to
    a cent, marked up by MARKUP %, rounded up to ``step`` cents."""
    cents = ceil(Fraction(amount) * RATES[currency] * 100)
    return max(ceil(Fraction(cents * (100 + MARKUP), 100) / step) * step, step)


def routing_settings(settings: Settings, step: str) -> Settings:
    rates = {code: Decimal(rate.numerator) / Decimal(rate.denominator) for code, rate in RATES.items()}
    return settings.model_copy(
        update={
            "currency": "USD",
            "usd_rates": rates,
            "markup_percent": Decimal(MARKUP),
            "price_step": step,
            "default_price": "0.50",
        }
    )


class LoseReply(httpx.AsyncBaseTransport):
    """Forwards to a fake; a chosen request is carried out upstream but its answer is lost (ReadTimeout)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self._lose: list[tuple[str, str]] = []

    def lose_next(self, method: str, path: str) -> None:
        self._lose.append((method, path))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        key = (request.method, request.url.path)
        if key in self._lose:
            self._lose.remove(key)
            raise httpx.ReadTimeout("answer lost after the upstream acted (fake)", request=request)
        return response


@dataclass
class World:
    """The services over several guarded upstreams, with their fakes."""

    db: Database
    orders: OrderService
    tracker: Tracker
    catalog: Catalog
    pricing: Pricing
    step: int
    guards: dict[str, GuardedProvider]
    sa: FakeSmsActivate
    sc: FakeSMSCode
    ism: FakeISMSCode
    box: FakeSimSmsBox
    box_wire: LoseReply
    confirmed: dict[int, int] = field(default_factory=dict)  # order id -> price the user confirmed

    def buys(self, name: str) -> int:
        """How many purchase requests the upstream ``name`` received."""
        if name == "smsactivate":
            return sum(r.action in ("getNumber", "getNumberV2") for r in self.sa.requests)
        if name == "smscode":
            return sum((r.method, r.path) == ("POST", "/orders") for r in self.sc.requests)
        if name == "ismscode":
            return sum((r.method, r.path) == ("POST", "/numbers/request") for r in self.ism.requests)
        if name == "simsmsbox":
            return sum((r.method, r.path) == ("POST", "/api/sms/orders/purchase") for r in self.box.requests)
        raise KeyError(name)

    def all_buys(self) -> dict[str, int]:
        return {name: self.buys(name) for name in self.guards}

    async def place(
        self, user_id: int, nonce: str, confirmed: int, *, days: int | None = None, accept: bool = False
    ) -> Result:
        result = await self.orders.place(
            user_id=user_id,
            chat_id=user_id,
            request_key=f"{user_id}:{nonce}",
            country=COUNTRY,
            service=SERVICE,
            confirmed=confirmed,
            rent_days=days,
            accept_nonrefundable=accept,
        )
        if result.order is not None:
            self.confirmed.setdefault(result.order.id, confirmed)
        return result

    async def ledger_rows(self, user_id: int) -> list[dict[str, object]]:
        async with self.db.read() as conn:
            async with conn.execute("SELECT * FROM ledger WHERE user_id = ? ORDER BY id", (user_id,)) as cur:
                return [dict(row) for row in await cur.fetchall()]

    async def balance(self, user_id: int) -> int:
        async with self.db.read() as conn:
            async with conn.execute("SELECT balance FROM users WHERE id = ?", (user_id,)) as cur:
                row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def check_invariants(self) -> None:
        """Money invariants over every user and order in the database."""
        async with self.db.read() as conn:
            discrepancies = await ledger.discrepancies(conn)
            async with conn.execute("SELECT id, balance FROM users") as cur:
                users = [(r[0], r[1]) for r in await cur.fetchall()]
            async with conn.execute("SELECT MIN(balance_after) FROM ledger") as cur:
                lowest = (await cur.fetchone())[0]
            async with conn.execute("SELECT id, status, price, refundable FROM orders") as cur:
                orders = [(r[0], r[1], r[2], r[3]) for r in await cur.fetchall()]
            async with conn.execute("SELECT order_id, kind, amount, reference FROM ledger") as cur:
                rows = [(r[0], r[1], r[2], r[3]) for r in await cur.fetchall()]
        assert discrepancies == [], f"balance != sum(ledger) for {discrepancies}"
        assert all(balance >= 0 for _, balance in users), users
        assert lowest is None or lowest >= 0, f"a balance went negative ({lowest})"
        for order_id, status, price, refundable in orders:
            charges = [amount for oid, kind, amount, _ in rows if oid == order_id and kind == "purchase"]
            refunds = [amount for oid, kind, amount, _ in rows if oid == order_id and kind == "refund"]
            charge_refs = [ref for *_, ref in rows if ref == f"order:{order_id}:charge"]
            refund_refs = [ref for *_, ref in rows if ref == f"order:{order_id}:refund"]
            assert len(charges) <= 1 and len(charge_refs) <= 1, f"order {order_id} charged {charges}"
            assert len(refunds) <= 1 and len(refund_refs) <= 1, f"order {order_id} refunded {refunds}"
            assert charges == [-price], f"order {order_id}: charge {charges} is not its price {price}"
            assert order_id in self.confirmed, f"order {order_id} was not placed through World.place"
            assert -charges[0] <= self.confirmed[order_id], f"order {order_id} charged above the confirmed price"
            kept = not refundable and status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED)
            if status in REFUNDED and not kept:
                assert refunds == [price], f"{status} order {order_id} refunded {refunds}"
            else:
                assert refunds == [], f"{status} order {order_id} refunded {refunds}"

    async def close(self) -> None:
        await self.catalog.close()


def build_world(
    db: Database,
    settings: Settings,
    *,
    upstreams: tuple[str, ...],
    step: str = "0.10",
    sa_price: str = "0.20",
    sa_stock: int = 500,
    sc_price: str = "3500",
    sc_stock: int = 5,
    box_price: str = "1.50",
    box_stock: int = 3,
) -> World:
    """Upstreams in catalog order; each fake sells whatsapp in the US at the given price and stock.

    Every fake also lists something cheaper that is sold out, which must never set the price.
    """
    sa = FakeSmsActivate(api_key=KEY)
    sa.prices = {SA_US: {"wa": [Decimal(sa_price), sa_stock], "tg": [Decimal("0.01"), 9]}}
    sc = FakeSMSCode(api_key=KEY)
    sc.products = [
        {"id": 42, "country": "united states", "platform": "whatsapp", "price": Decimal(sc_price), "stock": sc_stock},
        {"id": 44, "country": "united states", "platform": "whatsapp", "price": Decimal("100"), "stock": 0},
        {"id": 57, "country": "indonesia", "platform": "whatsapp", "price": Decimal("100"), "stock": 50},
    ]
    ism = FakeISMSCode(api_key=KEY)  # sells whatsapp in the US, unpriced
    box = FakeSimSmsBox(api_key=KEY)
    box.market = {
        ("US", "physical"): [
            FakeItem("wa", "WhatsApp", Decimal(box_price), box_stock),
            FakeItem("wa", "WhatsApp", Decimal("0.01"), 0, "up-b"),
        ],
        ("US", "virtual"): [],
        ("GB", "physical"): [FakeItem("wa", "WhatsApp", Decimal("0.01"), 5)],
        ("GB", "virtual"): [],
    }
    box_wire = LoseReply(box)
    adapters: dict[str, Callable[[], Provider]] = {
        "smsactivate": lambda: SmsActivateProvider(KEY, "https://sa.example", transport=sa),
        "smscode": lambda: SMSCodeProvider(KEY, transport=sc),
        "ismscode": lambda: ISMSCodeProvider(KEY, transport=ism),
        "simsmsbox": lambda: SimSmsBoxProvider(KEY, transport=box_wire),
    }
    guards = {
        name: GuardedProvider(adapters[name](), rate=100, failures=FAILURES, cooldown=COOLDOWN) for name in upstreams
    }
    catalog = Catalog(list(guards.values()), ttl=60, stale_after=900)
    configured = routing_settings(settings, step)
    pricing = Pricing(configured)
    orders = order_service(db, catalog, pricing, timedelta(minutes=20))
    return World(
        db=db,
        orders=orders,
        tracker=Tracker(orders, OrderActions(orders), concurrency=4),
        catalog=catalog,
        pricing=pricing,
        step=configured.price_step_minor,
        guards=guards,
        sa=sa,
        sc=sc,
        ism=ism,
        box=box,
        box_wire=box_wire,
    )
