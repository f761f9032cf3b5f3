"""The copy of an SQLite shop into an empty PostgreSQL database, for ``python -m bot migrate-to URL``.

Every table the two schemas share, every row, ids kept: read from SQLite in batches, written with
PostgreSQL's ``COPY`` inside the caller's one transaction (all or nothing), parents before children (the
foreign keys, read from SQLite, give the order). A column that points into its own table (a user's
``referrer_id``) is written empty first and filled once the whole table is in, since a referrer's id
may sort after the user's. The identity sequences are then set past the largest id ever handed out
(SQLite's ``sqlite_sequence`` included), so no id is used twice. The append-only triggers refuse only
UPDATE and DELETE: a copy only inserts.

Each table's rows are also summed into an order-free digest on both sides, so the caller can prove that
what PostgreSQL holds is row for row what SQLite held, not just as many rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite
import asyncpg

#: tables that are not copied, and why: they describe the running processes, not the shop
NOT_COPIED = {
    "write_probe": "the readiness check's scratch row",
    "replicas": "which bot processes are alive; the new ones register themselves",
}
_INTERNAL = ("sqlite_%",)  # SQLite's own: sqlite_sequence, sqlite_stat1
_INTEGERS = ("bigint", "integer", "smallint")
_DIGEST_MOD = 1 << 128


class CopyRefused(RuntimeError):
    """The target cannot take the copy (not empty, another schema): nothing was written."""


class CopyFailed(RuntimeError):
    """A row could not be copied (a value PostgreSQL's column cannot hold): the transaction rolls back."""


@dataclass(slots=True)
class Table:
    """One table to copy: its columns (SQLite's order) with PostgreSQL's type of each."""

    name: str
    columns: list[str]
    types: list[str]  # PostgreSQL data_type per column
    self_refs: list[tuple[str, str]]  # (column, the column of this table it points at)
    key: list[str]  # the primary key's columns


@dataclass(slots=True)
class Copied:
    """What the copy wrote: rows and digest per table, in the order copied."""

    tables: list[Table]
    rows: dict[str, int]
    digests: dict[str, int]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def convert(value: Any, pg_type: str) -> Any:
    """``value`` as PostgreSQL's column of ``pg_type`` takes it; ValueError for what it cannot hold.

    SQLite keeps whatever it is given; money columns are integers there by trigger. A float, bytes, or
    text in an integer column is refused rather than rounded or guessed.
    """
    if value is None:
        return None
    if pg_type in _INTEGERS and isinstance(value, int) and not isinstance(value, bool):
        return value
    if pg_type == "text" and isinstance(value, str | int) and not isinstance(value, bool):
        return value if isinstance(value, str) else str(value)
    raise ValueError(f"{value!r} does not fit PostgreSQL's {pg_type} column")


def _converted(table: Table, raw: Sequence[Any], number: int) -> list[Any]:
    """One SQLite row as PostgreSQL takes it; CopyFailed naming the table, row and column otherwise."""
    row = []
    for value, pg_type, column in zip(raw, table.types, table.columns, strict=True):
        try:
            row.append(convert(value, pg_type))
        except ValueError as exc:
            raise CopyFailed(f"{table.name} row {number}, column {column}: {exc}") from None
    return row


def row_digest(row: Sequence[Any]) -> int:
    """A 128-bit hash of one row's values; summed over a table it ignores the rows' order."""
    return int.from_bytes(hashlib.sha256(repr(tuple(row)).encode()).digest()[:16], "big")


async def _sqlite_tables(source: aiosqlite.Connection) -> list[str]:
    async with source.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE ? ORDER BY name", _INTERNAL
    ) as cur:
        return [row[0] for row in await cur.fetchall() if row[0] not in NOT_COPIED]


async def plan(source: aiosqlite.Connection, target: asyncpg.Connection) -> list[Table]:
    """The tables to copy, parents first; CopyRefused when the two schemas differ."""
    names = await _sqlite_tables(source)
    parents: dict[str, set[str]] = {}
    tables: dict[str, Table] = {}
    for name in names:
        async with source.execute(f"PRAGMA table_info({_quote(name)})") as cur:
            info = await cur.fetchall()
        async with source.execute(f"PRAGMA foreign_key_list({_quote(name)})") as cur:
            keys = await cur.fetchall()
        columns = [row[1] for row in info]
        key = [row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5])]
        pg = dict(
            await target.fetch(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = $1",
                name,
            )
        )
        if not pg:
            raise CopyRefused(f"table {name} is missing in the target: is it this bot's schema?")
        if set(pg) != set(columns):
            raise CopyRefused(
                f"table {name} has other columns in the target ({', '.join(sorted(set(pg) ^ set(columns)))}):"
                " run the same version of the bot on both"
            )
        self_refs = [(row[3], row[4] or key[0]) for row in keys if row[2] == name]
        parents[name] = {row[2] for row in keys if row[2] != name}
        tables[name] = Table(name, columns, [pg[c] for c in columns], self_refs, key)
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = sorted(n for n in names if n not in ordered and parents[n] <= set(ordered))
        if not ready:
            raise CopyRefused(f"the foreign keys among {', '.join(sorted(set(names) - set(ordered)))} form a cycle")
        ordered += ready
    return [tables[name] for name in ordered]


async def nonempty(target: asyncpg.Connection, tables: list[Table]) -> list[str]:
    """The tables that already hold rows in the target."""
    return [t.name for t in tables if await target.fetchval(f"SELECT EXISTS (SELECT 1 FROM {_quote(t.name)})")]


async def _copy_table(
    source: aiosqlite.Connection, target: asyncpg.Connection, table: Table, batch: int
) -> tuple[int, int]:
    """Rows and digest of one table, copied."""
    cols = ", ".join(_quote(c) for c in table.columns)
    deferred = {table.columns.index(c) for c, _ in table.self_refs}
    later: list[tuple[Any, ...]] = []  # the self-references, set once every row is in
    rows = digest = 0
    async with source.execute(f"SELECT {cols} FROM {_quote(table.name)}") as cur:
        while chunk := await cur.fetchmany(batch):
            records = []
            for raw in chunk:
                row = _converted(table, tuple(raw), rows + len(records) + 1)
                digest = (digest + row_digest(row)) % _DIGEST_MOD
                for column, points_at in table.self_refs:
                    value = row[table.columns.index(column)]
                    if value is not None:
                        later.append((value, row[table.columns.index(points_at)]))
                records.append(tuple(None if i in deferred else v for i, v in enumerate(row)))
            await target.copy_records_to_table(table.name, records=records, columns=table.columns)
            rows += len(records)
    for column, points_at in table.self_refs:
        if later:
            await target.executemany(
                f"UPDATE {_quote(table.name)} SET {_quote(column)} = $1 WHERE {_quote(points_at)} = $2", later
            )
    return rows, digest


async def _sequences(source: aiosqlite.Connection, target: asyncpg.Connection, tables: list[Table]) -> None:
    """Each identity past the largest id the shop ever handed out (SQLite's AUTOINCREMENT counter too)."""
    async with source.execute("SELECT name, seq FROM sqlite_sequence") as cur:
        handed_out = {row[0]: int(row[1]) for row in await cur.fetchall()}
    for name, column in await target.fetch(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND is_identity = 'YES'"
    ):
        if name not in {t.name for t in tables}:
            continue
        largest = await target.fetchval(f"SELECT COALESCE(MAX({_quote(column)}), 0) FROM {_quote(name)}")
        last = max(int(largest), handed_out.get(name, 0))
        await target.execute(
            "SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)", _quote(name), column, max(last, 1), last > 0
        )


async def copy_shop(source: aiosqlite.Connection, target: asyncpg.Connection, *, batch: int = 2000) -> Copied:
    """Copy every shared table into ``target`` (inside the caller's transaction); CopyRefused when the
    target already holds rows of any of them, or its schema differs."""
    tables = await plan(source, target)
    if full := await nonempty(target, tables):
        raise CopyRefused(f"the target already holds data ({', '.join(full)}): migrate-to only fills an empty database")
    copied = Copied(tables, {}, {})
    for table in tables:
        copied.rows[table.name], copied.digests[table.name] = await _copy_table(source, target, table, batch)
    await _sequences(source, target, tables)
    return copied


async def target_digest(target: asyncpg.Connection, table: Table, batch: int = 2000) -> tuple[int, int]:
    """Rows and digest of ``table`` as the target holds it (in a transaction of its own: a cursor needs one)."""
    cols = ", ".join(_quote(c) for c in table.columns)
    rows = digest = 0
    async with target.transaction(readonly=True):
        async for record in target.cursor(f"SELECT {cols} FROM {_quote(table.name)}", prefetch=batch):
            rows += 1
            digest = (digest + row_digest(tuple(record))) % _DIGEST_MOD
    return rows, digest
