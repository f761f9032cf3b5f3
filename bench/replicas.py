"""Replicas on PostgreSQL: purchases per second with 1 and 2 bot processes beside SQLite with 1, and the poll
cycle over 100,000 active orders on one replica and split across two.

The purchases (:mod:`bench.replica_buys`): ``BENCH_REPLICAS_USERS`` (default 200) new users per round tap
Confirm at once, ``BENCH_REPLICAS_ROUNDS`` rounds (default 3) after a warm-up, through real ``python -m bot``
processes in webhook mode behind a round-robin balancer; with two replicas they share Redis (FSM and event
isolation) when one is at hand. The poll cycle (:mod:`bench.replica_polls`): ``BENCH_REPLICAS_ORDERS``
(default 100,000) active orders, each replica's run in seconds and against POLL_INTERVAL_SECONDS.

PostgreSQL: the server at ``TEST_DATABASE_URL`` when set (and Redis at ``TEST_REDIS_URL``), else a throw-away
one ``.ci/services`` starts from the system's packages when they are installed (this bench installs none).
Without either, the bench says it was skipped and why. Each measurement gets a database of its own, dropped
after. ``python -m bench.replicas --quick`` is a small run (what the smoke test runs).

The ideal 1 → 2 replica ratio is 2.00; every process here (both replicas, PostgreSQL, the fakes and the
simulated users) shares one machine, so the printed ratio is what this machine gives, beside its core count.
``replicas_core_share`` is the cores the replicas used together while the Confirms ran: well under the
machine's cores, load from elsewhere held them back, and ``cpu_ms_per_purchase`` is the figure to trust. The
setups run one after another (SQLite, then PostgreSQL with 1, then 2), so load that comes and goes on the
machine meanwhile moves the ratio too.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from bench import replica_buys, replica_polls
from bench.common import median, report, spread
from bot.settings import Settings
from storage.postgres import PostgresDatabase
from tests.backend import url_of
from tests.botproc import ROOT

USERS = int(os.environ.get("BENCH_REPLICAS_USERS", "200"))
ROUNDS = max(int(os.environ.get("BENCH_REPLICAS_ROUNDS", "3")), 1)
ORDERS = int(os.environ.get("BENCH_REPLICAS_ORDERS", "100000"))
QUICK = {"users": 4, "rounds": 1, "orders": 300}


@asynccontextmanager
async def servers(start: bool = True) -> AsyncIterator[tuple[str | None, str | None, str]]:
    """(PostgreSQL URL, Redis URL or None, why there is no PostgreSQL) for the bench's run; ``start``: start
    throw-away servers when none is named."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url, os.environ.get("TEST_REDIS_URL") or None, ""
        return
    if not start:
        yield None, None, "TEST_DATABASE_URL is unset"
        return
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb") or shutil.which("redis-server") is None:
        yield None, None, "TEST_DATABASE_URL is unset and PostgreSQL or Redis is not installed to start one"
        return
    folder = tempfile.mkdtemp(prefix="bench-services-")
    script = str(ROOT / ".ci" / "services")
    try:
        started = await asyncio.to_thread(subprocess.run, [script, "start", folder], capture_output=True, text=True)
        found = dict(line.removeprefix("export ").split("=", 1) for line in started.stdout.split() if "=" in line)
        if started.returncode or "TEST_DATABASE_URL" not in found:
            yield None, None, f".ci/services could not start PostgreSQL: {started.stderr.strip()[-300:]}"
        else:
            yield found["TEST_DATABASE_URL"], found.get("TEST_REDIS_URL"), ""
    finally:
        await asyncio.to_thread(subprocess.run, [script, "stop", folder], capture_output=True)


@asynccontextmanager
async def database(server: str) -> AsyncIterator[str]:
    """A new, migrated database on ``server`` for one measurement; dropped after."""
    name = "bench_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = url_of(name, server)
        await (await PostgresDatabase.open(url, pool_size=1)).close()  # migrated
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def purchase_figures(outcome: replica_buys.Outcome, users: int, rounds: int) -> None:
    setup = outcome.setup
    if outcome.first_traceback:
        print(f"a {setup.name} replica logged an error:\n{outcome.first_traceback}", file=sys.stderr, flush=True)
    report(
        f"replicas.purchases {setup.name} x{setup.replicas}",
        users_per_round=users,
        rounds=rounds,
        warm_up=outcome.warm_up,
        purchases_per_s=spread(outcome.rates, 1) if outcome.rates else "none",
        cpu_ms_per_purchase=spread(outcome.cpu_ms, 1) if outcome.cpu_ms else "none",
        replicas_core_share=spread(outcome.shares, 2) if outcome.shares else "none",
        bought=outcome.bought,
        failed=outcome.failed,
        orders_in_db=outcome.orders_in_db,
        requests_per_replica="/".join(map(str, outcome.split)),
        redis="yes" if setup.redis_url else "no",
        bot_tracebacks=outcome.tracebacks,
        driver_cpu=f"{outcome.driver_cpu:.2f}",
    )


async def purchases(server: str | None, redis: str | None, users: int, rounds: int) -> None:
    rates: dict[tuple[str, int], float] = {}
    setups = [replica_buys.Setup("sqlite", 1)]
    if server is not None:
        setups += [replica_buys.Setup("postgresql", n, None, redis) for n in (1, 2)]
    for setup in setups:
        with tempfile.TemporaryDirectory() as tmp:
            if setup.name == "postgresql":
                assert server is not None
                async with database(server) as url:
                    setup = replica_buys.Setup(setup.name, setup.replicas, url, setup.redis_url)
                    outcome = await replica_buys.measure(Path(tmp), setup, users, rounds)
            else:
                outcome = await replica_buys.measure(Path(tmp), setup, users, rounds)
        purchase_figures(outcome, users, rounds)
        rates[(setup.name, setup.replicas)] = median(outcome.rates) if outcome.rates else 0.0
    if server is None:
        return
    one, two, lite = rates[("postgresql", 1)], rates[("postgresql", 2)], rates[("sqlite", 1)]
    cores = os.cpu_count() or 1
    print(f"replicas: PostgreSQL 2 replicas / 1 replica: {two / one if one else 0:.2f} (ideal 2.00; {cores} cores "
          "shared by both replicas, PostgreSQL and the load)", flush=True)  # fmt: skip
    print(f"replicas: PostgreSQL 1 replica / SQLite 1: {one / lite if lite else 0:.2f}", flush=True)


async def poll_cycle(server: str, orders: int) -> None:
    settings = Settings(_env_file=None, bot_token="1:X", database_path=Path("unused.sqlite3"))  # type: ignore[call-arg]
    async with database(server) as url:
        figures = await replica_polls.measure(url, orders, settings)
    report("replicas.poll_cycle", **figures)


async def main(users: int = USERS, rounds: int = ROUNDS, orders: int = ORDERS, *, start: bool = True) -> None:
    """Every figure; PostgreSQL's only with a server (``start``: a throw-away one when none is named)."""
    async with servers(start) as (server, redis, why):
        if server is None:
            print(f"replicas: PostgreSQL skipped ({why}); SQLite only", flush=True)
        await purchases(server, redis, users, rounds)
        if server is not None:
            await poll_cycle(server, orders)


if __name__ == "__main__":
    asyncio.run(main(**QUICK) if "--quick" in sys.argv[1:] else main())
