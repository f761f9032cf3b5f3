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
import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis

from handlers.callbacks import ConfirmCb
from storage.backends import open_store
from tests import backend
from tests.conftest import TOKEN
from tests.fakes.serve import serve
from tests.fakes.telegram import FakeTelegram
from tests.replicas import (
    ADMIN,
    KEY,
    SECRET,
    USER,
    Replicas,
    Shop,
    amount,
    upstream,
    wait_async,
)

pytestmark = pytest.mark.postgres

LEASE = 3.0  # LEASE_SECONDS of the replicas
#: a slow, shared 2-core CI machine: how long past one lease period a taken-over code may take
TAKEOVER_SLACK = 25.0
CLAIM = "smsbot-tests:claimed-by"  # the key that marks a Redis database as taken by one test


def require_services() -> None:
    """Skip in the SQLite pass (the PostgreSQL pass runs it); in the PostgreSQL pass, skip without PostgreSQL
    and Redis to run on, or under CI=true fail instead."""
    if not backend.ON_POSTGRES:
        pytest.skip("replicas share PostgreSQL: this runs in the PostgreSQL pass (TEST_BACKEND=postgresql)")
    missing = [
        name
        for name, value in (("TEST_DATABASE_URL", backend.SERVER_URL), ("TEST_REDIS_URL", backend.REDIS_URL))
        if not value
    ]
    if not missing:
        return
    reason = f"{' and '.join(missing)} not set: the two-replica test needs PostgreSQL and Redis (see .ci/services)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@asynccontextmanager
async def claimed_redis() -> AsyncIterator[str]:
    """The URL of a Redis database (1-15) that was empty and is now this test's alone (a claim key set with
    NX); flushed when the test ends, so nothing of it outlives the test and no other data is touched."""
    parts = urlsplit(backend.REDIS_URL)
    token = uuid.uuid4().hex
    for number in range(15, 0, -1):
        url = urlunsplit(parts._replace(path=f"/{number}"))
        client = aioredis.from_url(url)
        try:
            if await client.dbsize() == 0 and await client.set(CLAIM, token, nx=True) and await client.dbsize() == 1:
                break
        finally:
            await client.aclose()
    else:
        raise RuntimeError("no empty Redis database (1-15) to claim for the test")
    try:
        yield url
    finally:
        client = aioredis.from_url(url)
        try:
            if await client.get(CLAIM) == token.encode():
                await client.flushdb()
        finally:
            await client.aclose()


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
            assert all(status == 0 for i, status in statuses.items() if i not in replicas.killed), statuses
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
    took = {server: n - served.get(server, 0) for server, n in replicas.balancer.served.items()}
    assert len(took) == 2 and all(n > 0 for n in took.values()), took
    orders = await shop.orders()
    assert len(orders) == 3, orders
    assert {status for _, status, *_ in orders} == {"active"}, orders
    assert await shop.balance() == 0
    assert sorted(amount for _, amount, _ in await shop.ledger_of("purchase")) == [-price] * 3
    await shop.check_books()

    # a code arrives exactly once; every order of this batch gets one, so the orders left waiting below are
    # the next batch alone, placed at one moment: none of them expires (ORDER_TIMEOUT_MINUTES=1) while the
    # test still waits for all of them, however slow the machine was before
    first = {order_id: shop.deliver(upstream_id, order_id) for order_id, _, _, upstream_id, _ in orders}
    await fake.wait_for(lambda: all(shop.code_sends(c) for c in first.values()), timeout=60)

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

    held = await wait_async(lambda: leased(6), 60, "every waiting order leased to a live replica")
    assert all(held.values()), held  # each placed some (the balancer took turns), and polls what it placed
    victim = max(held, key=lambda i: len(held[i]))  # the one holding more: at least half of them
    survivor = 1 - victim
    # while both live, two of the survivor's orders get their codes: each sent once, by one of the two
    codes = {order_id: shop.deliver(upstream_id, order_id) for order_id, upstream_id in held[survivor][:2]}
    await fake.wait_for(lambda: all(shop.code_sends(c) for c in codes.values()), timeout=60)

    await replicas.kill(victim)
    killed_at = asyncio.get_running_loop().time()
    # what it held when it died: nothing of it moves before its leases run out (no one else writes them)
    held = await wait_async(lambda: leased(6 - len(codes)), 10, "the leases as the replica died")
    theirs = held[victim]
    assert len(theirs) >= 2, held
    expiring, coded = theirs[: len(theirs) // 2], theirs[len(theirs) // 2 :]  # at least 1 and 2 of them
    codes |= {order_id: shop.deliver(upstream_id, order_id) for order_id, upstream_id in held[survivor]}
    taken_over = {order_id: shop.deliver(upstream_id, order_id) for order_id, upstream_id in coded}
    await fake.wait_for(lambda: all(shop.code_sends(c) for c in taken_over.values()), timeout=LEASE + 60)
    took_over_in = asyncio.get_running_loop().time() - killed_at
    assert took_over_in <= LEASE + TAKEOVER_SLACK, f"the dead replica's codes came {took_over_in:.1f} s after"
    await fake.wait_for(lambda: all(shop.code_sends(c) for c in codes.values()), timeout=60)
    codes |= taken_over | first

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
