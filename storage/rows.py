"""Rows into records: how every query module turns what a query returns into its dataclasses.

:class:`Record` builds a dataclass from the columns of the same names, converting the ones that need
it (a status into its enum, a 0/1 into a bool). :func:`fetch_one` and :func:`fetch_all` run a query
and build what it returns; :func:`fetch_value` reads one value, :func:`fetch_column` one per row;
:func:`returns_row` says whether a statement with ``RETURNING`` touched a row (an insert that was
not a duplicate, a compare-and-set that matched). None of them commits: the caller owns the
transaction.

Each runs its statement and reads its rows in one trip to aiosqlite's thread (``execute_fetchall``):
a cursor costs three (execute, fetch, close), about 3x the CPU of a point query, paid on every update.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import aiosqlite

T = TypeVar("T")


class Record(Generic[T]):
    """Builds a ``cls`` from a row: each field from the column of its name, through ``convert[name]``."""

    def __init__(self, cls: type[T], **convert: Callable[[Any], Any]) -> None:
        names = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
        if unknown := set(convert) - set(names):
            raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
        self._cls = cls
        self._columns = tuple((name, convert.get(name)) for name in names)

    def __call__(self, row: aiosqlite.Row) -> T:
        return self._cls(*[row[name] if to is None else to(row[name]) for name, to in self._columns])


def optional(convert: Callable[[Any], T]) -> Callable[[Any], T | None]:
    """``convert`` for a column that may be NULL (or empty): that stays None."""
    return lambda value: convert(value) if value else None


async def fetch_one(
    conn: aiosqlite.Connection, sql: str, params: Iterable[Any], build: Callable[[aiosqlite.Row], T]
) -> T | None:
    """The first row the query returns, built; None when it returns none."""
    rows = await conn.execute_fetchall(sql, params)
    return build(rows[0]) if rows else None


async def fetch_all(
    conn: aiosqlite.Connection, sql: str, params: Iterable[Any], build: Callable[[aiosqlite.Row], T]
) -> list[T]:
    """Every row the query returns, built, in its order."""
    return [build(row) for row in await conn.execute_fetchall(sql, params)]


async def fetch_column(conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> list[Any]:
    """The first column of every row (references, ids), in the query's order."""
    return [row[0] for row in await conn.execute_fetchall(sql, params)]


async def fetch_value(conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = (), default: Any = None) -> Any:
    """The first column of the first row (a count, an id), or ``default`` when there is no row."""
    rows = await conn.execute_fetchall(sql, params)
    return rows[0][0] if rows else default


async def returns_row(conn: aiosqlite.Connection, sql: str, params: Iterable[Any]) -> bool:
    """Run a statement with ``RETURNING``: True when it returned a row, i.e. it inserted or changed one."""
    return bool(await conn.execute_fetchall(sql, params))
