"""No filter of the router tree runs in a worker thread (see :mod:`handlers.filters`)."""

from __future__ import annotations

from collections.abc import Iterator

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.types import Chat, Message

from handlers.filters import on_loop
from handlers.routers import build_router


def _routers(router: Router) -> Iterator[Router]:
    yield router
    for sub in router.sub_routers:
        yield from _routers(sub)


def test_every_filter_is_awaited_on_the_loop() -> None:
    root = build_router()
    try:
        routers = list(_routers(root))
    finally:
        for router in root.sub_routers:  # module globals: free for the next test's dispatcher
            router._parent_router = None
    threaded = [
        f"{router.name}.{name}: {handler.callback.__name__} {flt.callback!r}"
        for router in routers
        for name, observer in router.observers.items()
        for handler in [observer._handler, *observer.handlers]
        for flt in handler.filters or []
        if not flt.awaitable
    ]
    threaded += [
        f"{router.name}.{name}: handler {handler.callback!r}"
        for router in routers
        for name, observer in router.observers.items()
        for handler in observer.handlers
        if not handler.awaitable
    ]
    assert threaded == []


async def test_on_loop_answers_what_the_magic_filter_answers() -> None:
    chat = Chat(id=1, type=ChatType.GROUP)
    message = Message(message_id=1, date=0, chat=chat, text="/start")
    assert await on_loop(F.chat.type.in_((ChatType.GROUP,)))(message) is True
    assert await on_loop(F.chat.type == ChatType.PRIVATE)(message) is False
    assert await on_loop(~F.text.startswith("/"))(message) is False
    assert await on_loop(F.text.as_("said"))(message) == {"said": "/start"}
    assert not await on_loop(F.caption)(message)
