"""Which replica polls which open order: leases in the database (:mod:`storage.leases`), so that replicas sharing
one PostgreSQL database poll every order exactly once between them, and deliver each SMS once.

Each poll run first asks :meth:`Leases.refresh`, then reads only the orders this replica holds. A lease is good
while its holder is alive (``replicas.seen_at`` within LEASE_SECONDS): renewing is one row, the replica's beat,
however many orders it holds. Every third of LEASE_SECONDS (and whenever an order is free: just resolved, given up
by a stopping replica, or left by a dead one) the replica claims: it beats, then takes free leases, or ones whose
holder is gone, while it holds fewer than its share, ``ceil(waiting / live replicas)``, or gives up what it holds
over it (a replica that just joined takes those), :attr:`Leases.chunk` orders per write transaction at most, so
that purchases and refunds commit between them. A replica that dies stops beating: after LEASE_SECONDS it is not
alive, and the others take its orders at their next run. One that stops gracefully frees its leases at once
(:meth:`Leases.release`). Other runs write nothing.

With SQLite there is one process (the file's lock lets no second one start): it is :attr:`Leases.sole`, the only
live replica, and a lease not its own is a previous process's, taken at once by the same code (a restart after a
crash does not wait a lease out before polling).
Times are the wall clock's (replicas' clocks are assumed in step, as NTP keeps them: a lease of 30 s
tolerates a skew of seconds); :attr:`Leases.clock` is replaceable for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from storage import leases as lease_rows
from storage.backends import Store
from storage.timestamps import iso

logger = logging.getLogger(__name__)

#: replicas not seen for this long are deleted from the table of replicas (tidiness only)
FORGET_AFTER = timedelta(days=1)
#: the time a sole process compares other leases with: after every one of them
END_OF_TIME = "9999-12-31T23:59:59.999999Z"


def replica_name() -> str:
    """A name for this process among the replicas: host, pid and a random tail (a pid is reused across hosts
    and restarts); made once at start."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _now() -> datetime:
    return datetime.now(UTC)


def sole_process(db: Store) -> bool:
    """No other process can use this database (SQLite: its file lock lets no second bot start)."""
    return getattr(db, "dialect", "sqlite") == "sqlite"


def others_run_out_before(sole: bool, now: datetime) -> str:
    """The time another replica's lease (an order's, a broadcast's) is compared with to be taken: ``now``; for a
    sole process after every one of them, since any other holder was a previous process (a crash's restart
    does not wait its leases out)."""
    return END_OF_TIME if sole else iso(now)


class Leases:
    """This replica's leases on open orders, in the database ``db``, each ``seconds`` long."""

    def __init__(
        self, db: Store, name: str, seconds: float, clock: Callable[[], datetime] = _now, *, sole: bool | None = None
    ) -> None:
        self.db = db
        self.name = name
        self.length = timedelta(seconds=seconds)
        self.clock = clock
        #: no other process can use the database (SQLite unless told otherwise): other leases are a dead one's
        self.sole = sole_process(db) if sole is None else sole
        self._claimed_at: datetime | None = None  # when this replica last claimed
        #: the most orders one write transaction takes or gives up (100,000 in one held the write lock for seconds)
        self.chunk = 1000
        #: real seconds between renewals while a run is :meth:`kept` going (a third of a lease)
        self.renew_every = seconds / 3
        #: told the number of live replicas at each claim (the upstream rate limits are shared among them)
        self.on_live: Callable[[int], None] = lambda live: None

    def _others_until(self, now: datetime) -> str:
        return others_run_out_before(self.sole, now)

    def fresh(self) -> dict[str, str]:
        """The lease columns of an order this replica just made active: it polls it first."""
        return {"lease_owner": self.name, "lease_until": iso(self.clock() + self.length)}

    def _live_since(self, now: datetime) -> str:
        """The time a holder must have been seen since to be alive; a sole process counts no other holder alive."""
        return END_OF_TIME if self.sole else iso(now - self.length)

    async def refresh(self) -> None:
        """Claim, if it is due: a third of a lease since the last claim, or an order free to take (a read says)."""
        now = self.clock()
        if self._claimed_at is not None and now - self._claimed_at < self.length / 3:
            async with self.db.read() as conn:
                if not await lease_rows.loose(conn, iso(now - self.length)):
                    return
        await self.claim(now)

    async def claim(self, now: datetime | None = None) -> int:
        """Beat, then take up to this replica's share or give up what is over it, :attr:`chunk` orders per write
        transaction: how many it holds."""
        now = now or self.clock()
        until, since, others = iso(now + self.length), self._live_since(now), self._others_until(now)
        async with self.db.transaction() as conn:
            await lease_rows.beat(conn, self.name, iso(now))
            await lease_rows.bury(conn, iso(now - self.length))
            live = 1 if self.sole else max(await lease_rows.live(conn, iso(now - self.length)), 1)
            share = math.ceil(await lease_rows.waiting_count(conn) / live)
            held = await lease_rows.held_count(conn, self.name)
            moved = await self._move(conn, held, share, others, since, until)
        self.on_live(live)
        held += moved
        while abs(moved) == self.chunk and held != share:  # more to move: in the next transaction
            async with self.db.transaction() as conn:
                await lease_rows.beat(conn, self.name, iso(self.clock()))  # a long claim: not taken for dead
                moved = await self._move(conn, held, share, others, since, until)
            held += moved
        self._claimed_at = now
        return held

    async def _move(self, conn: Any, held: int, share: int, others: str, since: str, until: str) -> int:
        """One chunk towards ``share``: plus the orders taken, minus those given up."""
        if held > share:
            return -len(await lease_rows.shed(conn, self.name, min(held - share, self.chunk)))
        if held < share:
            wanted = min(share - held, self.chunk)
            return len(await lease_rows.take(conn, self.name, others, since, until, wanted))
        return 0

    async def renew(self) -> None:
        """Beat: every lease this replica holds stays good (one row written, however many it holds)."""
        async with self.db.transaction() as conn:
            await lease_rows.beat(conn, self.name, iso(self.clock()))

    @contextlib.asynccontextmanager
    async def kept(self) -> AsyncIterator[None]:
        """While a poll run (and its deliveries) goes on, renew this replica's leases every :attr:`renew_every`
        seconds: a run slower than a lease (an upstream hanging) keeps its orders, so no other replica takes
        one and pushes the code this run is about to push."""

        async def keep() -> None:
            while True:
                await asyncio.sleep(self.renew_every)
                try:
                    await self.renew()
                except Exception as exc:  # the database busy or gone: the run's delivery checks the leases
                    logger.warning("order leases not renewed during a long poll run: %s", exc)

        keeper = asyncio.create_task(keep())
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def take(self, order_ids: Sequence[int]) -> set[int]:
        """Those of ``order_ids`` this replica holds now, taking the ones nobody holds: whose SMS it may deliver.
        Ones another replica holds are left to it; read first, so holding or saying no writes nothing."""
        now = self.clock()
        async with self.db.read() as conn:
            holders = await lease_rows.holders(conn, order_ids, iso(now), self._live_since(now))
        ours = {oid for oid, holder in holders.items() if holder == self.name}
        wanted = [oid for oid in order_ids if oid not in ours and (self.sole or oid not in holders)]
        if wanted:
            async with self.db.transaction() as conn:
                until = iso(now + self.length)
                others, since = self._others_until(now), self._live_since(now)
                ours |= set(await lease_rows.take_these(conn, self.name, wanted, others, since, until))
        return ours

    async def held_elsewhere(self, order_ids: Sequence[int]) -> set[int]:
        """Those of ``order_ids`` another live replica holds, its lease running: the sweeps leave them to it for
        now, since it may still be buying them (or a renewal of them). A read; none for a sole process."""
        if self.sole or not order_ids:
            return set()
        now = self.clock()
        async with self.db.read() as conn:
            return await lease_rows.held_elsewhere(conn, order_ids, self.name, iso(now), iso(now - self.length))

    async def release(self) -> int:
        """Free every lease of this replica and leave the live ones (a graceful stop): others take its orders at
        their next run instead of a lease period later. How many were freed."""
        now = self.clock()
        freed, moved = 0, self.chunk
        while moved == self.chunk:  # a chunk per transaction, as a claim gives up; the last one leaves the live
            async with self.db.transaction() as conn:
                moved = await lease_rows.release(conn, self.name, self.chunk)
                if moved < self.chunk:
                    await lease_rows.forget(conn, self.name, iso(now - FORGET_AFTER))
            freed += moved
        self._claimed_at = None
        if freed:
            logger.info("released %d order leases for the other replicas", freed)
        return freed
