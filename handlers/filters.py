"""Magic filters (``F.…``) checked on the event loop instead of in a worker thread.

aiogram awaits a filter that is a coroutine function or a :class:`~aiogram.filters.Filter`, and runs any
other callable through ``asyncio.to_thread``. A bare magic filter is the latter (its ``resolve`` is a plain
method): each update it was checked against (every message and tap passes the filters of the routers
before its own) paid a hop to the default thread pool and back, and an idle turn of the event loop, for
an attribute lookup. :func:`on_loop` wraps one so that aiogram awaits it; it answers exactly what the
magic filter answers (a value, falsy to refuse; a dict, from ``.as_()``, to hand to the handler). A raw
``State`` as a filter is the same case: write ``StateFilter(State)``. ``tests/test_filters.py`` checks
that no filter of the router tree is left to a thread.
"""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject
from magic_filter import MagicFilter


class OnLoop(Filter):
    """A magic filter resolved in the handler's own coroutine."""

    __slots__ = ("magic",)

    def __init__(self, magic: MagicFilter) -> None:
        self.magic = magic

    async def __call__(self, event: TelegramObject) -> Any:
        return self.magic.resolve(event)

    def __str__(self) -> str:
        return f"on_loop({self.magic!r})"


def on_loop(magic: MagicFilter) -> OnLoop:
    """``magic`` (an ``F.…`` expression) as a filter aiogram awaits instead of running in a thread."""
    return OnLoop(magic)
