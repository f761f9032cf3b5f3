"""End to end with two replicas: two real bot processes on one PostgreSQL and one Redis, in webhook mode behind
a round-robin load balancer, selling from one fake sms-activate both reach over HTTP.

One run, in the order a shop lives it: 100 Confirms of one user sent at once (both replicas take some) on a
balance for exactly 3 numbers place exactly 3 orders; each code reaches the user's chat exactly once; one
replica is SIGKILLed while it holds orders still waiting for an SMS, and the other delivers their codes
within about one lease period and refunds the ones that expire, once each; /audit says ok at the end.
Runs in the PostgreSQL pass only (``TEST_BACKEND=postgresql``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from handlers.callbacks import ConfirmCb
from storage import ledger
from storage.backends import Store, open_store
from tests import backend
from tests.conftest import TOKEN
from tests.fakes.serve import serve
from tests.fakes.smsactivate import FakeSmsActivate
from tests.fakes.telegram import FakeTelegram
from tests.replicas import ADMIN, KEY, SECRET, USER, Replicas, claimed_redis, require_services, upstream

pytestmark = pytest.mark.postgres

LEASE = 3.0  # LEASE_SECONDS of the replicas
#: a slow, shared 2-core CI machine: how long past one lease period a taken-over code may take
TAKEOVER_SLACK = 25.0


class Shop:
    """What the test drives and inspects: the fake Bot API, the fake upstream, the replicas, the database."""

    def __init__(self, fake: FakeTelegram, sa: FakeSmsActivate, replicas: Replicas, db: Store) -> None:
        self.fake, self.sa, self.replicas, self.db = fake, sa, replicas, db
        self.posted: set[int] = set()  # update ids the test POSTed itself, past the fake's queue

    async def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        async with self.db.read() as conn:
            async with conn.execute(sql, params) as cursor:
                return [tuple(row) for row in await cursor.fetchall()]

    async def orders(self) -> list[tuple[int, str, int, str, str | None]]:
        """(id, status, price, upstream id, lease owner) of the user's orders, oldest first."""
        sql = "SELECT id, status, price, upstream_id, lease_owner FROM orders WHERE user_id = ? ORDER BY id"
        return await self.rows(sql, USER)  # type: ignore[return-value]

    async def balance(self) -> int:
        return int((await self.rows("SELECT balance FROM users WHERE id = ?", USER))[0][0])

    async def ledger_of(self, kind: str) -> list[tuple[int, int, str]]:
        """(order id, amount, reference) of the user's ledger rows of ``kind``."""
        sql = "SELECT order_id, amount, reference FROM ledger WHERE user_id = ? AND kind = ? ORDER BY id"
        return await self.rows(sql, USER, kind)  # type: ignore[return-value]

    async def check_books(self) -> None:
        async with self.db.read() as conn:
            assert await ledger.discrepancies(conn) == []
        assert await self.balance() >= 0

    def all_delivered(self) -> bool:
        """Every update queued so far was posted and answered 2xx (they go in order, one at a time)."""
        done = {update for update, status in self.fake.webhook.posts if 200 <= status < 300} | self.posted
        return self.fake.last_update_id in done

    async def says(self, user_id: int, text: str, needle: str, timeout: float = 60) -> str:  # noqa: ASYNC109
        """Write ``text``; the first new message to ``user_id`` containing ``needle``."""
        sent = len(self.fake.messages_to(user_id))
        self.fake.send_message(user_id, text)

        def answer() -> str | None:
            found = [m.get("text", "") for m in self.fake.messages_to(user_id)[sent:] if needle in m.get("text", "")]
            return found[0] if found else None

        return await self.fake.wait_for(answer, timeout=timeout)

    async def confirm_screens(self, count: int) -> list[tuple[int, str]]:
        """``count`` confirmation screens of WhatsApp in the US (deep links), each with a nonce of its own:
        (message id, Confirm's callback data)."""
        newest = max((m["message_id"] for m in self.fake.messages_to(USER)), default=0)
        for _ in range(count):
            self.fake.send_message(USER, "/start whatsapp-US")

        def screens() -> list[tuple[int, str]] | None:
            found = [
                (m["message_id"], data)
                for m in self.fake.messages_to(USER)
                if m["message_id"] > newest and (data := confirm_data(m)) is not None
            ]
            return found if len(found) == count else None

        return await self.fake.wait_for(screens, timeout=120)

    async def confirm_at_once(self, screens: list[tuple[int, str]]) -> None:
        """Tap Confirm on every screen, all taps POSTed through the balancer at the same moment; back once
        every screen became a card or a refusal."""
        await self.fake.wait_for(self.all_delivered, timeout=60)  # nothing else in the queue: no update twice
        queries = [self.fake.press(USER, data, message_id=message_id) for message_id, data in screens]
        updates = self.fake.take_updates()
        assert len(updates) == len(screens)
        statuses = await asyncio.gather(*(self.fake.post_to_webhook(u, secret=SECRET) for u in updates))
        assert set(statuses) == {200}, statuses
        self.posted |= {update["update_id"] for update in updates}
        await self.fake.wait_for(lambda: set(queries) <= self.fake.answered_callbacks(), timeout=120)
        ids = {message_id for message_id, _ in screens}

        def settled() -> bool:
            shown = [m for m in self.fake.messages_to(USER) if m["message_id"] in ids]
            return len(shown) == len(ids) and all(confirm_data(m) is None for m in shown)

        await self.fake.wait_for(settled, timeout=120)

    def code_sends(self, code: str) -> int:
        """How many messages the bot sent to the user's chat with ``code`` in them (the card's edits aside)."""
        return sum(code in str(c.params.get("text", "")) for c in self.fake.calls_of("sendMessage"))

    def deliver(self, upstream_id: str, order_id: int) -> str:
        """The upstream receives the order's SMS; its code."""
        code = f"73{order_id:04d}"
        self.sa.deliver_code(upstream_id, code)
        return code


def confirm_data(message: dict[str, Any]) -> str | None:
    """The callback data of the message's Confirm button, if it has one."""
    for row in message.get("reply_markup", {}).get("inline_keyboard", []):
        for button in row:
            if str(button.get("callback_data", "")).startswith(ConfirmCb.__prefix__ + ":"):
                return str(button["callback_data"])
    return None


def amount(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    require_services()
    url = await backend.create_database()
    sa = upstream()
    try:
        async with (
            claimed_redis() as redis_url,
            FakeTelegram(token=TOKEN, local=True) as fake,
            serve(sa) as upstream_url,
        ):
            replicas = Replicas(tmp_path, fake, upstream_url, url, redis_url)
            db = await open_store(tmp_path / "unused.sqlite3", url)
            try:
                await replicas.start()
                yield Shop(fake, sa, replicas, db)
            finally:
                statuses = await replicas.stop()
                await db.close()
            for i, output in enumerate(replicas.outputs()):
                assert "Traceback" not in output, output[-3000:]
                for secret in (TOKEN, KEY, SECRET):  # the test servers have no passwords to leak
                    assert secret not in output, f"replica {i} logged a secret"
            killed = replicas.killed
            assert all(status == 0 for i, status in statuses.items() if i not in killed), statuses
    finally:
        await backend.drop_database(url)


async def test_two_replicas_behind_a_balancer(shop: Shop) -> None:
    fake, replicas = shop.fake, shop.replicas
    await shop.says(USER, "/start", "Welcome")
    screen = await shop.says(USER, "/start whatsapp-US", "Price:")
    match = re.search(r"Price: (\d+)\.(\d\d) USD", screen)
    assert match, screen
    price = int(match.group(1)) * 100 + int(match.group(2))
    await shop.says(ADMIN, f"/credit {USER} {amount(3 * price)} e2e", "Credited")

    # 100 Confirms at once on a balance for 3, spread over both replicas: exactly 3 orders
    screens = await shop.confirm_screens(100)
    assert len({ConfirmCb.unpack(data).nonce for _, data in screens}) == 100
    assert {ConfirmCb.unpack(data).price for _, data in screens} == {price}
    served = dict(replicas.balancer.served)
    await shop.confirm_at_once(screens)
    took = {backend: n - served.get(backend, 0) for backend, n in replicas.balancer.served.items()}
    assert len(took) == 2 and all(n > 0 for n in took.values()), took
    orders = await shop.orders()
    assert len(orders) == 3, orders
    assert {status for _, status, *_ in orders} == {"active"}, orders
    assert await shop.balance() == 0
    assert sorted(amount for _, amount, _ in await shop.ledger_of("purchase")) == [-price] * 3
    await shop.check_books()

    # a code arrives exactly once
    first_id, _, _, first_upstream, _ = orders[0]
    code = shop.deliver(first_upstream, first_id)
    await fake.wait_for(lambda: shop.code_sends(code), timeout=60)

    # six more orders, then one replica dies while it holds some of the waiting ones
    await shop.says(ADMIN, f"/credit {USER} {amount(6 * price)} e2e", "Credited")
    await shop.confirm_at_once(await shop.confirm_screens(6))
    pids = {str(replicas.pid(i)): i for i in range(2)}

    async def leased(count: int) -> dict[int, list[tuple[int, str]]] | None:
        """Replica index -> (order id, upstream id) it holds, once the ``count`` waiting orders all have an owner."""
        waiting = [o for o in await shop.orders() if o[1] == "active"]
        held: dict[int, list[tuple[int, str]]] = {0: [], 1: []}
        for order_id, _, _, upstream_id, owner in waiting:
            index = next((pids[part] for part in str(owner).split(":") if part in pids), None)
            if index is None:
                return None
            held[index].append((order_id, upstream_id))
        return held if len(waiting) == count else None

    held = await wait_async(lambda: leased(8), timeout=60)
    assert all(held.values()), held  # each placed some (the balancer took turns), and polls what it placed
    victim = max(held, key=lambda i: len(held[i]))  # the one holding more: at least half of them
    survivor = 1 - victim
    # while both live, two of the survivor's orders get their codes: each sent once, by one of the two
    codes = {order_id: shop.deliver(upstream_id, order_id) for order_id, upstream_id in held[survivor][:2]}
    await fake.wait_for(lambda: all(shop.code_sends(c) for c in codes.values()), timeout=60)

    await replicas.kill(victim)
    killed_at = asyncio.get_running_loop().time()
    # what it held when it died: nothing of it moves before its leases run out (no one else writes them)
    held = await wait_async(lambda: leased(8 - len(codes)), timeout=10)
    theirs = held[victim]
    assert len(theirs) >= 2, held
    expiring, coded = theirs[: len(theirs) // 2], theirs[len(theirs) // 2 :]  # the older ones expire first
    codes |= {order_id: shop.deliver(upstream_id, order_id) for order_id, upstream_id in held[survivor]}
    taken_over = {order_id: shop.deliver(upstream_id, order_id) for order_id, upstream_id in coded}
    await fake.wait_for(lambda: all(shop.code_sends(c) for c in taken_over.values()), timeout=LEASE + 60)
    took_over_in = asyncio.get_running_loop().time() - killed_at
    assert took_over_in <= LEASE + TAKEOVER_SLACK, f"the dead replica's codes came {took_over_in:.1f} s after"
    await fake.wait_for(lambda: all(shop.code_sends(c) for c in codes.values()), timeout=60)
    codes |= taken_over | {first_id: code}

    # the balancer's turn comes to the dead replica too: it refuses, and the survivor answers instead
    dead = replicas.balancer.backends[victim]
    for _ in range(2):
        await shop.says(USER, "/balance", "Your balance:", timeout=90)  # past an isolation lock it held
    assert replicas.balancer.refused[dead] >= 1, replicas.balancer.refused

    # the dead replica's orders left without a code expire (ORDER_TIMEOUT_MINUTES=1) and are refunded once
    expired_ids = {order_id for order_id, _ in expiring}

    async def all_expired() -> bool:
        return all(status == "expired" for order_id, status, *_ in await shop.orders() if order_id in expired_ids)

    await wait_async(all_expired, timeout=150)
    refunds = await shop.ledger_of("refund")
    assert sorted(order_id for order_id, _, _ in refunds) == sorted(expired_ids), refunds
    assert {amount for _, amount, _ in refunds} == {price}
    assert len({reference for *_, reference in refunds}) == len(refunds)

    # every code reached the chat exactly once, and the books agree
    await fake.wait_for(lambda: shop.all_delivered(), timeout=60)
    assert {order_id: shop.code_sends(c) for order_id, c in codes.items()} == dict.fromkeys(codes, 1)
    statuses = {order_id: status for order_id, status, *_ in await shop.orders()}
    assert all(statuses[order_id] in ("code_received", "completed") for order_id in codes), statuses
    assert await shop.balance() == price * len(expired_ids)
    await shop.check_books()
    report = await shop.says(ADMIN, "/audit", "Refunds:")
    assert report.startswith("✅ ok"), report


async def wait_async(condition: Any, timeout: float) -> Any:  # noqa: ASYNC109
    """Poll the coroutine function ``condition`` until it returns something true; that result."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := await condition()):
        if loop.time() >= deadline:
            raise AssertionError(f"{condition.__name__} not met in {timeout} s")
        await asyncio.sleep(0.2)
    return result
