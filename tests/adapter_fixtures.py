"""The two fixtures every adapter test starts from: the upstream's fake and the adapter bound to it.

``fake, provider = adapter_fixtures(FakeX, XProvider, KEY)`` at module level registers both with
pytest under those names; extra positional arguments go to the adapter before ``transport``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest


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
