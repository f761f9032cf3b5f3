"""What a log line is about: the update being handled, its user, the order being worked on.

Three context variables, bound where the work starts (the update middleware in
``handlers/log_context.py``; an order's purchase, poll and delivery) and read by the JSON log
formatter (:class:`bot.runtime.logs.JsonFormatter`), so a line logged anywhere below (a service, a
query, aiogram itself) says which update, user and order it belongs to without every call passing
them on. Context variables follow asyncio: a task started inside a binding sees it, and concurrent
tasks (the poll's per-order checks) each keep their own.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

#: the fields, in the order a JSON line lists them
FIELDS = ("update_id", "user_id", "order_id")

_VARS: dict[str, ContextVar[int | None]] = {name: ContextVar(name, default=None) for name in FIELDS}


def current() -> dict[str, int]:
    """The fields bound here and now; a field not bound (or bound to None) is left out."""
    found = {}
    for name, var in _VARS.items():
        value = var.get()
        if value is not None:
            found[name] = value
    return found


@contextmanager
def bind(**fields: int | None) -> Iterator[None]:
    """Bind ``update_id`` / ``user_id`` / ``order_id`` for the block; the previous values come back after.

    None unbinds a field for the block (an update with no user does not inherit one). An unknown name is
    a TypeError: a typo would otherwise silently log nothing.
    """
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown log context field(s): {', '.join(sorted(unknown))}")
    tokens: list[tuple[ContextVar[int | None], Token[int | None]]] = [
        (_VARS[name], _VARS[name].set(value)) for name, value in fields.items()
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class HasId(Protocol):
    @property
    def id(self) -> int: ...


S = TypeVar("S")
OrderT = TypeVar("OrderT", bound=HasId)
P = ParamSpec("P")
R = TypeVar("R")


def binds_order(
    method: Callable[Concatenate[S, OrderT, P], Awaitable[R]],
) -> Callable[Concatenate[S, OrderT, P], Coroutine[Any, Any, R]]:
    """Decorates an async method whose first argument is an order: its ``id`` is ``order_id`` while it runs.

    One line above a method that works on an order (polling it, delivering its SMS), instead of
    re-indenting its body under ``with bind(order_id=...)``.
    """

    @functools.wraps(method)
    async def bound(self: S, order: OrderT, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with bind(order_id=order.id):
            return await method(self, order, *args, **kwargs)

    return bound
