"""What every adapter test starts from: the upstream's fake and the adapter bound to it, and calls by name.

``fake, provider = adapter_fixtures(FakeX, XProvider, KEY)`` at module level registers both with
pytest under those names; extra positional arguments go to the adapter before ``transport``.
:func:`adapter_call` runs one adapter call named in a parametrized test (``"offers"``, ``"buy"``, ``"check"``...).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from providers.base import Offer


def adapter_fixtures(make_fake: Callable[..., Any], make_provider: Callable[..., Any], key: str, *args: Any) -> tuple:
    @pytest.fixture
    def fake() -> Any:
        return make_fake(api_key=key)

    @pytest.fixture
    async def provider(fake: Any) -> AsyncIterator[Any]:
        adapter = make_provider(key, *args, transport=fake)
        yield adapter
        await adapter.close()

    return fake, provider


def adapter_call(provider: Any, name: str, offer: Offer, upstream_id: str) -> Awaitable[object]:
    """The adapter call ``name``, buying ``offer`` and acting on the order ``upstream_id`` (renewed 7 days)."""
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "offers": provider.offers,
        "check": lambda: provider.check(upstream_id),
        "cancel": lambda: provider.cancel(upstream_id),
        "balance": provider.balance,
        "buy": lambda: provider.buy(offer),
        "renew": lambda: provider.renew(upstream_id, 7),
        "active": provider.active,
        "send_sms": lambda: provider.send_sms("+12025551001", "+12025550100", "Hello"),
    }
    return calls[name]()
