"""``python -m bot migrate-to postgresql://…``: move an SQLite shop (DATABASE_PATH) into an empty PostgreSQL
database, then prove the copy holds the same money.

The bot must be stopped: the command takes the database file's lock, as a bot does, so it is refused
while one runs (and none starts mid-way). The target is migrated to this bot's schema, refused if it
already holds data, and filled in one transaction (:mod:`storage.copy`): a failure leaves it empty. Then
the checks, each one line: rows per table, every row's content, every balance against its ledger rows,
the ledger's total against the source's, and the shop's own audit on the copy. The URL's password is
never printed. Exit status: 0 copied and every check passed, 1 the copy or a check failed, 2 refused
(usage, a running bot, a source that is not there, a target that is not empty).
"""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import urlsplit

import asyncpg

from bot.money.audit import Audit
from bot.money.pricing import Pricing
from bot.runtime.logs import SecretFilter, shown_url
from bot.scale_settings import database_kind
from bot.settings import Settings
from storage import ledger
from storage.copy import NOT_COPIED, Copied, CopyFailed, CopyRefused, copy_shop, target_digest
from storage.database_file import DatabaseInUse, DatabaseUnusable, hold_database_lock, probe_database
from storage.db import Database
from storage.postgres import PostgresDatabase

USAGE = "usage: python -m bot migrate-to postgresql://user:password@host:5432/database"
LEDGER_TOTAL = "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM ledger"


def migrate_to_command(settings: Settings, args: list[str]) -> int:
    """Copy DATABASE_PATH into the PostgreSQL database at ``args[0]``; the exit status (module docstring)."""
    if len(args) != 1:
        print(USAGE, file=sys.stderr)
        return 2
    url = args[0]
    try:
        kind = database_kind(url)
    except ValueError:
        kind = ""
    if kind != "postgresql" or not urlsplit(url).hostname:
        print(f"migrate-to refused: {shown_url(url)} is not a PostgreSQL URL; {USAGE}", file=sys.stderr)
        return 2
    source = settings.database_path
    if not source.is_file():
        print(
            f"migrate-to refused: there is no SQLite database at {source.absolute()} (DATABASE_PATH)", file=sys.stderr
        )
        return 2
    try:
        lock = hold_database_lock(source)
    except DatabaseInUse as exc:
        holder = f" (pid {exc.holder})" if exc.holder else ""
        print(f"migrate-to refused: a bot is running on {source.absolute()}{holder}; stop it first", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"migrate-to refused: cannot lock {source.absolute()}: {exc}", file=sys.stderr)
        return 2
    try:
        probe_database(source, switch_to_wal=False)
        return asyncio.run(_migrate(settings, url))
    except DatabaseUnusable as exc:
        print(f"migrate-to refused: DATABASE_PATH: {exc}", file=sys.stderr)
        return 2
    finally:
        lock.close()


async def _migrate(settings: Settings, url: str) -> int:
    print(f"copying {settings.database_path} into {shown_url(url)}")
    scrub = SecretFilter([url]).mask  # an error's text without the URL's passwords
    source = await Database.open(settings.database_path)  # at this bot's schema version, as a start would
    try:
        try:
            target = await PostgresDatabase.open(url, pool_size=2)
        except Exception as exc:  # unreachable, refused, a DSN it cannot read: one line, never the password
            print(
                f"migrate-to failed: cannot open {shown_url(url)}: {scrub(str(exc))}",
                file=sys.stderr,
            )
            return 1
        try:
            try:
                async with source.read() as sconn, target.transaction() as tconn:
                    copied = await copy_shop(sconn, tconn.raw)
            except CopyRefused as exc:
                print(f"migrate-to refused: {scrub(str(exc))}; nothing was written", file=sys.stderr)
                return 2
            except (CopyFailed, asyncpg.PostgresError) as exc:
                print(f"migrate-to failed: {scrub(str(exc))}; nothing was written", file=sys.stderr)
                return 1
            for table in copied.tables:
                count = copied.rows[table.name]
                print(f"  {table.name}: {count} row{'' if count == 1 else 's'}")
            print("  not copied: " + "; ".join(f"{name} ({why})" for name, why in NOT_COPIED.items()))
            failures = await check_copy(settings, source, target, copied)
        finally:
            await target.close()
    finally:
        await source.close()
    if failures:
        print(f"migrate-to: {failures} check(s) FAILED: do not start the bot on {shown_url(url)}", file=sys.stderr)
        return 1
    print(f"done: every check passed; set DATABASE_URL={shown_url(url)} (with its password) and start the bot")
    return 0


def _report(ok: bool, line: str) -> int:
    print(f"{'ok    ' if ok else 'FAILED'} {line}")
    return 0 if ok else 1


async def check_copy(settings: Settings, source: Database, target: PostgresDatabase, copied: Copied) -> int:
    """Print each check's outcome; the number that failed."""
    counted, differ, changed = 0, [], []
    async with target.read() as conn:
        for table in copied.tables:
            rows, digest = await target_digest(conn.raw, table)
            counted += rows
            if rows != copied.rows[table.name]:
                differ.append(f"{table.name} {copied.rows[table.name]} -> {rows}")
            if digest != copied.digests[table.name]:
                changed.append(table.name)
        off = await ledger.discrepancies(conn)
        total = tuple((await conn.execute_fetchall(LEDGER_TOTAL))[0])
        users = (await conn.execute_fetchall("SELECT COUNT(*) FROM users"))[0][0]
    async with source.read() as conn:
        async with conn.execute(LEDGER_TOTAL) as cur:
            expected = tuple(await cur.fetchone() or (0, 0))
    failed = _report(
        not differ, f"row counts: {len(copied.tables)} tables, {counted} rows" + "".join(f"; {d}" for d in differ)
    )
    failed += _report(
        not changed, "rows: " + ("every row identical" if not changed else "; ".join(f"{t} differs" for t in changed))
    )
    failed += _report(
        not off,
        f"balances: {users} users, each balance equals the sum of their ledger rows"
        if not off
        else f"balances: {len(off)} of {users} users differ from their ledger rows"
        + "".join(f"; user {u}: balance {b}, ledger {s}" for u, b, s in off[:20]),
    )
    failed += _report(
        total == expected,
        f"ledger total: {total[0]} rows summing to {total[1]} (SQLite: {expected[0]} rows summing to {expected[1]})",
    )
    report = await Audit(target, Pricing(settings)).run()  # type: ignore[arg-type]  # a Store: both kinds read alike
    failed += _report(
        report.ok,
        "audit: ok"
        if report.ok
        else f"audit: {len(report.issues)} finding(s)"
        + "".join(
            f"; {i.kind} {i.subject} expected {i.expected} found {i.found} {i.detail}".rstrip()
            for i in report.issues[:20]
        ),
    )
    return failed
