"""A bulk read that failed is not sent again on every poll run (see also tests/test_bulk_polling.py)."""

from __future__ import annotations

import pytest

from bot.orders import polling
from bot.settings import Settings
from storage.db import Database
from tests.test_bulk_polling import INTERVAL, Lister, _tracker, upstream, waiting_orders

__all__ = ["upstream"]  # the fixture, shared with tests/test_bulk_polling.py


async def test_a_failed_list_is_not_asked_again_for_a_while(
    db: Database, settings: Settings, upstream: Lister, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk read that fails (a clone without the action) is not sent on every run: the orders are checked
    one by one meanwhile, and the failure never counts against the upstream's breaker (providers.guard)."""
    await waiting_orders(db, upstream, 3)
    tracker = _tracker(db, settings, upstream)
    upstream.listing_fails = True
    monkeypatch.setattr(polling, "BULK_RETRY", 600.0)
    first = await tracker.poll_run(INTERVAL)
    upstream.calls.clear()
    second = await tracker.poll_run(INTERVAL)
    assert first.bulk_calls == 1 and second.bulk_calls == 0
    assert "active" not in upstream.calls and second.checks == 3
