"""A broadcast on two replicas sharing one PostgreSQL: one sends it; another resumes it when that one dies,
stops it when the admin cancels there, and takes it when the sender's lease ran out while it stalled.

Each replica is a :class:`Broadcasts` service on a pool of its own (:class:`PostgresDatabase`) with a fake
sender that counts what it sends to whom. A copy is counted when it is asked for, as if it always went out:
a recipient counted twice, over both replicas, is a duplicate. On SQLite (one process per file) there are
no replicas to test: those tests skip; test_broadcast.py covers the one process.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.operator.broadcasts import Broadcasts
from handlers.admin import broadcast_keyboards
from storage import broadcasts as q
from storage.backends import Store
from storage.postgres import PostgresDatabase
from storage.timestamps import iso, parse_iso

pytestmark = pytest.mark.postgres

ADMIN = 1
USERS = range(1000, 1300)
PROGRESS = (ADMIN, 77)  # the progress message, in the admin's chat
LOCALES = Path(__file__).resolve().parent.parent / "locales"


class FakeSender:
    """The Bot methods a broadcast calls, recording them; ``gate`` cleared holds every copy (a stall)."""

    def __init__(self, delay: float = 0.005) -> None:
        self.delay = delay
        self.copies: list[int] = []  # chat ids, in the order asked
        self.edits: list[str] = []  # progress texts
        self.reports: list[str] = []  # final reports, sent as new messages
        self.gate = asyncio.Event()
        self.gate.set()
        self.held: set[int] = set()  # chats whose copy waits at the gate

    async def copy_message(self, *, chat_id: int, **_: Any) -> None:
        self.copies.append(chat_id)
        await asyncio.sleep(self.delay)
        self.held.add(chat_id)
        await self.gate.wait()
        self.held.discard(chat_id)

    async def edit_message_text(self, *, text: str, **_: Any) -> None:
        self.edits.append(text)

    async def send_message(self, chat_id: int, text: str, **_: Any) -> None:
        self.reports.append(text)


class Replicas:
    """Two replicas' pools of one database; the services made on them are stopped before the pools close."""

    def __init__(self, a: Store, b: Store) -> None:
        self.stores = (a, b)
        self.made: list[Broadcasts] = []

    def pair(self, lease_seconds: float, delay: float = 0.005) -> tuple[Broadcasts, FakeSender, Broadcasts, FakeSender]:
        """Services "A" and "B", one on each pool, and their senders (A's sending every ``delay`` s)."""
        a_sender, b_sender = FakeSender(delay), FakeSender()
        a = self.service(self.stores[0], a_sender, "A", lease_seconds)
        b = self.service(self.stores[1], b_sender, "B", lease_seconds)
        return a, a_sender, b, b_sender

    def service(self, db: Store, sender: FakeSender, name: str, lease_seconds: float) -> Broadcasts:
        i18n = I18n(path=LOCALES, default_locale="en", domain="messages")
        svc = Broadcasts(
            sender,  # type: ignore[arg-type]
            db, i18n, broadcast_keyboards, 2000, senders=4, progress_every=0.1, lease_seconds=lease_seconds,
            replica=name,
        )  # fmt: skip
        self.made.append(svc)
        return svc


@pytest.fixture
async def replicas(db: Store, database_url: str | None) -> AsyncIterator[Replicas]:
    """Two replicas' pools of one database, its users seeded."""
    if database_url is None:
        pytest.skip("SQLite: one process per file, no replicas")
    async with db.transaction() as conn:
        await conn.executemany("INSERT INTO users (id) VALUES (?)", [(i,) for i in USERS])
    other = await PostgresDatabase.open(database_url, pool_size=4)
    two = Replicas(db, other)
    yield two
    for svc in two.made:
        await svc.stop(grace=1)
    await other.close()


async def start(svc: Broadcasts, progress: tuple[int, int] = PROGRESS) -> int:
    broadcast_id, recipients, created = await svc.start(
        admin_id=ADMIN, from_chat_id=ADMIN, message_id=5, button=None, audience="all", progress=progress
    )
    assert created and recipients == len(USERS)
    return broadcast_id


async def rows(db: Store, broadcast_id: int) -> dict[int, tuple[str, str | None]]:
    async with db.read() as conn:
        found = await conn.execute_fetchall(
            "SELECT user_id, status, error FROM broadcast_recipients WHERE broadcast_id = ?", (broadcast_id,)
        )
    return {r[0]: (r[1], r[2]) for r in found}


async def until(predicate: Any, within: float = 20.0) -> None:
    for _ in range(int(within / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {within} s")


async def kill(svc: Broadcasts, broadcast_id: int) -> None:
    """The replica dies: its runner ends where it is, nothing released, the lease no longer renewed."""
    _runner, task = svc._runs[broadcast_id]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_dead_replica_broadcast_resumed_by_another_without_duplicates(replicas: Replicas) -> None:
    lease = 2.0
    a, a_sender, b, b_sender = replicas.pair(lease, delay=0.02)
    db = replicas.stores[1]  # read through B's pool
    broadcast_id = await start(a)
    await until(lambda: len(a_sender.copies) >= 60)
    await kill(a, broadcast_id)
    died = asyncio.get_running_loop().time()
    at_death = await rows(db, broadcast_id)
    pending = {u for u, (s, _e) in at_death.items() if s == "pending"}
    in_flight = {u for u, (s, _e) in at_death.items() if s == "sending"}
    assert pending and in_flight and len(in_flight) <= 4  # one per sender at most
    async with db.read() as conn:
        held = await q.get(conn, broadcast_id)
    assert held is not None and held.lease_until is not None  # A's lease, no longer renewed
    assert await b.resume() == []  # A's lease still runs: B leaves it alone
    scheduler = AsyncIOScheduler(timezone="UTC")
    b.schedule(scheduler, lambda job: job)  # B's look every third of the lease, as bot.app schedules it
    scheduler.start()
    try:
        await until(lambda: broadcast_id in b._runs)
        taken_after = asyncio.get_running_loop().time() - died
        async with db.read() as conn:
            taken = await q.get(conn, broadcast_id)
        await asyncio.wait_for(b.wait(broadcast_id), 20)
    finally:
        scheduler.shutdown(wait=False)
    assert taken is not None and taken.lease_owner == "B" and taken.lease_until is not None
    took = parse_iso(taken.lease_until) - timedelta(seconds=lease)  # B's lease ends a lease after it took it
    assert took >= parse_iso(held.lease_until)  # once A's lease had run out ...
    assert taken_after < lease + 8  # ... within a lease and a margin for a loaded 2-core CI (B's looks come late)
    sends = Counter(a_sender.copies) + Counter(b_sender.copies)
    assert max(sends.values()) == 1  # nobody twice, over both replicas
    assert set(b_sender.copies) == pending  # every recipient left pending got it, from B
    final = await rows(db, broadcast_id)
    assert {u for u in in_flight if final[u] != ("failed", "interrupted")} == set()  # may have it: never resent
    assert {u for u, (s, _e) in final.items() if s == "sent"} == set(USERS) - in_flight
    async with db.read() as conn:
        done = await q.get(conn, broadcast_id)
    assert done is not None and done.status == "done" and done.lease_owner == "B"
    assert b_sender.edits and not a_sender.reports and len(b_sender.reports) == 1  # progress, report: from B, once
    assert f"Sent: {len(USERS) - len(in_flight)}" in b_sender.reports[0]
    assert f"Failed: {len(in_flight)}" in b_sender.reports[0]


async def test_a_broadcast_started_while_another_replica_sends_one_goes_from_that_replica(
    replicas: Replicas,
) -> None:
    """Each replica's rate limiter is its own: two broadcasts sent from two replicas would go at twice
    BROADCAST_RATE together. So the second waits for the sending replica's next look, and goes from there."""
    a, a_sender, b, b_sender = replicas.pair(30.0, delay=0.02)
    db = replicas.stores[1]  # read through B's pool
    first = await start(a)
    await until(lambda: len(a_sender.copies) >= 20)
    second = await start(b, progress=(ADMIN, 78))
    async with db.read() as conn:
        queued = await q.get(conn, second)
    assert queued is not None and queued.status == "running" and queued.lease_owner is None
    assert second not in b._runs and await b.resume() == []  # B sends nothing while A sends
    assert await a.resume() == [second]  # A's look (every third of LEASE_SECONDS) takes it
    await asyncio.wait_for(a.wait(first), 20)
    await asyncio.wait_for(a.wait(second), 20)
    assert not b_sender.copies and Counter(a_sender.copies) == Counter({user: 2 for user in USERS})
    for broadcast_id in (first, second):
        assert Counter(s for s, _e in (await rows(db, broadcast_id)).values()) == {"sent": len(USERS)}

    third = await start(b, progress=(ADMIN, 79))  # nobody sends any more: B sends its own at once
    assert third in b._runs
    await asyncio.wait_for(b.wait(third), 20)
    assert Counter(b_sender.copies) == Counter(USERS)


async def test_cancel_on_another_replica_stops_the_sender(replicas: Replicas) -> None:
    a, a_sender, b, b_sender = replicas.pair(30.0, delay=0.02)  # A's renewals (every 10 s) cannot stop it: claims
    db = replicas.stores[1]  # read through B's pool
    broadcast_id = await start(a)
    await until(lambda: len(a_sender.copies) >= 30)
    assert await b.cancel(broadcast_id, ADMIN)
    await asyncio.wait_for(a.wait(broadcast_id), 2)  # A stopped at its next claim
    sent = len(a_sender.copies)
    await asyncio.sleep(0.3)
    assert len(a_sender.copies) == sent < len(USERS) and not b_sender.copies
    statuses = Counter(s for s, _e in (await rows(db, broadcast_id)).values())
    assert statuses == {"sent": sent, "pending": len(USERS) - sent}
    assert len(a_sender.reports) == 1 and "was cancelled" in a_sender.reports[0]  # A, which sent it, shows the end
    assert not b_sender.reports and not b_sender.edits
    assert not await b.cancel(broadcast_id, ADMIN) and not await a.cancel(broadcast_id, ADMIN)
    assert await b.resume() == [] and await a.resume() == []  # cancelled: nobody takes it


async def test_replica_whose_lease_ran_out_while_stalled_stops_sending(replicas: Replicas) -> None:
    a, a_sender, b, b_sender = replicas.pair(30.0)
    db = replicas.stores[1]  # read through B's pool
    broadcast_id = await start(a)
    await until(lambda: len(a_sender.copies) >= 40)
    a_sender.gate.clear()  # A stalls mid-send, each of its 4 senders ...
    await until(lambda: len(a_sender.held) == 4, 5)
    async with db.transaction() as conn:  # ... for longer than its lease, not renewed meanwhile
        gone = iso(datetime.now(UTC) - timedelta(seconds=1))
        await conn.execute("UPDATE broadcasts SET lease_until = ? WHERE id = ?", (gone, broadcast_id))
    assert await b.resume() == [broadcast_id]
    stalled, asked = set(a_sender.held), len(a_sender.copies)
    a_sender.gate.set()  # A wakes up: it finishes the sends it was in, then claims nothing more
    await asyncio.wait_for(a.wait(broadcast_id), 5)
    await asyncio.wait_for(b.wait(broadcast_id), 20)

    sends = Counter(a_sender.copies) + Counter(b_sender.copies)
    assert max(sends.values()) == 1 and set(sends) == set(USERS)
    assert len(a_sender.copies) == asked  # A sent nothing more once B held the lease
    assert not stalled & set(b_sender.copies)  # B never resends what A had under way
    assert not a_sender.reports and len(b_sender.reports) == 1  # the report comes from the holder only
    async with db.read() as conn:
        done = await q.get(conn, broadcast_id)
    assert done is not None and done.status == "done" and done.lease_owner == "B"


async def test_graceful_stop_hands_the_broadcast_over_at_once(replicas: Replicas) -> None:
    a, a_sender, b, b_sender = replicas.pair(30.0, delay=0.02)
    db = replicas.stores[1]  # read through B's pool
    broadcast_id = await start(a)
    await until(lambda: len(a_sender.copies) >= 20)
    await a.stop(grace=5)  # sends in flight finish, then the lease is freed
    assert await a.resume() == []  # a stopping replica takes nothing
    assert await b.resume() == [broadcast_id]  # no lease period to wait
    await asyncio.wait_for(b.wait(broadcast_id), 20)
    sends = Counter(a_sender.copies) + Counter(b_sender.copies)
    assert max(sends.values()) == 1 and set(sends) == set(USERS)  # nothing was under way: nobody failed
    assert Counter(s for s, _e in (await rows(db, broadcast_id)).values()) == {"sent": len(USERS)}


async def test_cancel_of_a_dead_replicas_broadcast_is_shown_by_the_replica_that_cancels(replicas: Replicas) -> None:
    a, a_sender, b, b_sender = replicas.pair(1.0, delay=0.02)
    db = replicas.stores[1]  # read through B's pool
    broadcast_id = await start(a)
    await until(lambda: len(a_sender.copies) >= 20)
    await kill(a, broadcast_id)
    await asyncio.sleep(1.2)  # A's lease runs out: nobody sends it now
    assert await b.cancel(broadcast_id, ADMIN)
    assert not a_sender.reports and len(b_sender.reports) == 1 and "was cancelled" in b_sender.reports[0]
    assert b_sender.edits  # the progress message loses its Cancel button, from B
    assert not b_sender.copies and await b.resume() == []  # cancelled: nothing is sent or taken
    assert "pending" in {s for s, _e in (await rows(db, broadcast_id)).values()}
