"""Which database the tests run on, and a fresh PostgreSQL database per test when it is PostgreSQL.

``TEST_BACKEND=postgresql`` (with ``TEST_DATABASE_URL``, the server as ``.ci/services`` prints it) runs the
tests marked ``postgres`` on PostgreSQL: the ``db`` fixture, ``settings`` and :func:`tests.conftest.bot_process`
then use a database of their own, copied from a migrated template (fast: no migration per test) and
dropped after. Unset, everything runs on SQLite as always.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from storage.migrations.postgres import POSTGRES
from storage.postgres import PostgresDatabase

BACKEND = os.environ.get("TEST_BACKEND", "sqlite")
ON_POSTGRES = BACKEND == "postgresql"
SERVER_URL = os.environ.get("TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "")

#: the template's name follows the schema, so a changed schema never runs on a stale template
TEMPLATE = "smsbot_tpl_" + hashlib.sha256(repr(sorted(POSTGRES.items())).encode()).hexdigest()[:12]
_TEMPLATE_LOCK = 0x74706C  # many pytest processes may share one server


def url_of(database: str, server: str | None = None) -> str:
    parts = urlsplit(server or SERVER_URL)
    return urlunsplit(parts._replace(path="/" + database))


async def _template(admin: asyncpg.Connection) -> None:
    await admin.execute("SELECT pg_advisory_lock($1)", _TEMPLATE_LOCK)
    try:
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", TEMPLATE):
            return
        building = TEMPLATE + "_build"
        await admin.execute(f'DROP DATABASE IF EXISTS "{building}"')
        await admin.execute(f'CREATE DATABASE "{building}"')
        db = await PostgresDatabase.open(url_of(building))
        await db.close()
        await admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{TEMPLATE}"')
    finally:
        await admin.execute("SELECT pg_advisory_unlock($1)", _TEMPLATE_LOCK)


async def create_database() -> str:
    """A new, migrated, empty database on the test server; its URL."""
    if not SERVER_URL:
        raise RuntimeError("TEST_BACKEND=postgresql needs TEST_DATABASE_URL (see .ci/services)")
    name = "t_" + uuid.uuid4().hex[:16]
    admin = await asyncpg.connect(SERVER_URL)
    try:
        await _template(admin)
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    finally:
        await admin.close()
    return url_of(name)


async def drop_database(url: str) -> None:
    """Drop a database :func:`create_database` made, ending what still holds it open (a killed bot's)."""
    name = urlsplit(url).path.lstrip("/")
    admin = await asyncpg.connect(SERVER_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _in_thread(coro_factory):  # type: ignore[no-untyped-def]
    """Run a coroutine to completion from sync code, even inside a running event loop (a thread of its own)."""
    result: list[object] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(coro_factory()))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def create_database_sync() -> str:
    """:func:`create_database` for sync code (building a bot process's environment)."""
    return _in_thread(create_database)  # type: ignore[no-any-return]


def drop_database_sync(url: str) -> None:
    _in_thread(lambda: drop_database(url))
