"""One asyncpg connection behind the slice of aiosqlite's interface the query modules use.

The queries are written once, for both dialects: ``?`` placeholders (turned into ``$1, $2 …`` here, once
per distinct statement), ``ON CONFLICT``, ``RETURNING``, times as ISO text made in Python
(:mod:`storage.timestamps`). So a query module takes "a connection" and never learns which database
runs. What differs is mapped in this one place:

- a broken constraint (unique, check, foreign key) or a trigger's refusal raises :class:`ConstraintError`,
  a subclass of :class:`sqlite3.IntegrityError`, as SQLite raises it;
- ``numeric`` (what PostgreSQL's ``SUM`` of integers returns) comes back as ``int`` when whole: money
  stays integers, never ``Decimal`` or ``float``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

import asyncpg

#: ``?`` outside quoted text and comments
_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|--[^\n]*|\?")
#: a statement that returns rows (run with ``fetch``; the others with ``execute``, for the changed count)
_RETURNS_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES)\b|\bRETURNING\b", re.IGNORECASE)


class ConstraintError(sqlite3.IntegrityError):
    """PostgreSQL refused a write for a constraint or a trigger: what SQLite reports as IntegrityError."""


class FloatParameter(asyncpg.DataError):
    """A ``float`` bound to a statement. Every number column here is an integer (money in minor units), and
    asyncpg would silently truncate 1.5 to 1 for one; SQLite's triggers refuse it, so this refuses it too."""


def _no_floats(args: Sequence[Any]) -> list[Any]:
    for number, arg in enumerate(args, start=1):
        if isinstance(arg, float):  # the value only: the other parameters may be a user's text
            raise FloatParameter(f"a float for an integer column (parameter ${number}: {arg!r})")
    return list(args)


@lru_cache(maxsize=2048)
def dialect(sql: str) -> str:
    """``sql`` with its ``?`` placeholders numbered as PostgreSQL wants them."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group() != "?":
            return match.group()
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql)


def _numeric(text: str) -> int | Decimal:
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else value


async def prepare(conn: asyncpg.Connection) -> None:
    """Per-connection set-up (the pool's ``init``): whole numerics as ``int``."""
    await conn.set_type_codec("numeric", encoder=str, decoder=_numeric, schema="pg_catalog", format="text")


class PgCursor:
    """What ``conn.execute`` returns: awaitable, and usable as ``async with``, like aiosqlite's cursor."""

    def __init__(self, conn: PgConnection, sql: str, params: Sequence[Any]) -> None:
        self._conn, self._sql, self._params = conn, sql, params
        self._rows: list[asyncpg.Record] | None = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        #: as aiosqlite's: builds each row (from the cursor and the row's tuple) when set
        self.row_factory: Callable[[Any, tuple[Any, ...]], Any] | None = None

    async def _run(self) -> PgCursor:
        if self._rows is None:
            self._rows, self.rowcount = await self._conn.run(self._sql, self._params)
        return self

    def __await__(self) -> Any:
        return self._run().__await__()

    async def __aenter__(self) -> PgCursor:
        return await self._run()

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _built(self, row: asyncpg.Record) -> Any:
        return row if self.row_factory is None else self.row_factory(self, tuple(row))

    async def fetchone(self) -> Any:
        await self._run()
        assert self._rows is not None
        return self._built(self._rows.pop(0)) if self._rows else None

    async def fetchall(self) -> list[Any]:
        await self._run()
        rows, self._rows = self._rows or [], []
        return [self._built(row) for row in rows]

    async def close(self) -> None:
        return None


class PgConnection:
    """The connection a transaction or a read hands the query modules (see the module's docstring)."""

    dialect = "postgresql"

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        return self.raw.is_in_transaction()

    async def run(self, sql: str, params: Iterable[Any] = ()) -> tuple[list[asyncpg.Record], int]:
        """Rows and the count of rows changed (or returned), for one statement."""
        statement = dialect(sql)
        args = _no_floats(list(params))
        try:
            if _RETURNS_ROWS.search(statement):
                rows = await self.raw.fetch(statement, *args)
                return list(rows), len(rows)
            status = await self.raw.execute(statement, *args)
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.RaiseError) as exc:
            raise ConstraintError(str(exc)) from exc
        tail = status.rsplit(" ", 1)[-1]
        return [], int(tail) if tail.isdigit() else -1

    def execute(self, sql: str, params: Iterable[Any] = ()) -> PgCursor:
        return PgCursor(self, sql, list(params))

    async def execute_fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[asyncpg.Record]:
        rows, _count = await self.run(sql, params)
        return rows

    async def executemany(self, sql: str, seq_of_params: Iterable[Iterable[Any]]) -> None:
        try:
            await self.raw.executemany(dialect(sql), [_no_floats(list(params)) for params in seq_of_params])
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.RaiseError) as exc:
            raise ConstraintError(str(exc)) from exc
