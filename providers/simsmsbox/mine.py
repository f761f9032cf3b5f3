"""SimSmsBox's ``GET /api/sms/orders/mine?page=&pageSize=`` ("my orders") read as every order's state, per
``../shared/providers/001_943acbeb186e1349.txt``; the shapes assumed are in :mod:`providers.simsmsbox.client`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from providers import errors
from providers.parsing import first, holder, scalar, whole
from providers.simsmsbox.parse import NAME, ORDER_ID_KEYS, OrderView, order_view, unwrap_list

log = logging.getLogger(__name__)

#: orders asked for per page, and the most pages one read walks (the rest is left to per-order checks).
#: ``/mine`` lists an account's whole history (open orders assumed first, the newest); every page is a
#: request out of the read budget on every poll run, so a read stops after a few.
PAGE_SIZE = 100
MAX_PAGES = 3
#: an item is read as a whole order only when it shows these, as ``GET /orders/{id}`` does
SHOWN_KEYS = (("status",), ("latestCode", "latest_code"))
TOTAL_KEYS = ("total", "totalCount", "total_count", "count")


def page(body: object) -> tuple[list[object], int | None]:
    """One page of ``/mine``: its items and the ``total`` it gives (under ``data`` or at the top)."""
    items = unwrap_list(body)
    if items is None:
        raise errors.BadResponse(f"GET /api/sms/orders/mine: expected a list (page of {PAGE_SIZE})", provider=NAME)
    total = next((whole(first(p, *TOTAL_KEYS)) for p in _places(body) if first(p, *TOTAL_KEYS) is not None), None)
    return items, total


def _places(body: object) -> list[Mapping[str, object]]:
    return [holder(body), body] if isinstance(body, dict) else []


def orders(items: list[object]) -> dict[str, OrderView]:
    """The items read as :func:`order_view` reads ``GET /orders/{id}``, by order id. An item that does
    not show an id, a ``status`` and a ``latestCode`` key (null while no code came) is left out: a
    summary row may hide a code, and the poll job asks ``GET /orders/{id}`` about what is missing."""
    found: dict[str, OrderView] = {}
    for item in (i for i in items if isinstance(i, dict)):
        order_id = scalar(first(item, *ORDER_ID_KEYS))
        if order_id is not None and all(any(k in item for k in keys) for keys in SHOWN_KEYS):
            found[order_id] = order_view(item, order_id)
    return found


async def walk(fetch: Callable[[int], Awaitable[object]]) -> dict[str, OrderView]:
    """Every order ``/mine`` shows (:func:`orders`), fetching page 1, 2, ... with ``fetch(page)`` until
    a page is empty or brings no new order (a server that ignores ``page``), ``total`` is reached, or,
    without a total, a page is shorter than the first; at most :data:`MAX_PAGES` pages."""
    found: dict[str, OrderView] = {}
    ids: set[str | None] = set()
    read = first_size = 0
    for number in range(1, MAX_PAGES + 1):
        items, total = page(await fetch(number))
        read, first_size = read + len(items), first_size or len(items)
        new = {scalar(first(i, *ORDER_ID_KEYS)) for i in items if isinstance(i, dict)} - ids - {None}
        ids |= new
        found |= orders(items)
        if not new or (read >= total if total is not None else len(items) < first_size):
            return found
    if not _told:  # once per process: this holds on every run while the history is that long
        _told.append(True)
        log.warning("%s: my orders run past %d pages (%d read); the rest go to per-order checks", NAME, MAX_PAGES, read)
    return found


_told: list[bool] = []
