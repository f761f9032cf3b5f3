"""OrderService as tests and benchmarks build it: the composition root (``bot/services.py``) is the only
place that builds the refund policy and the limits for the bot, so a test that does not care builds the
defaults here, in one place, and says so."""

from __future__ import annotations

from datetime import timedelta

from bot.money.pricing import Pricing
from bot.orders.placing import Limits, OrderService
from bot.orders.refunds import RefundPolicy
from providers.catalog import Catalog
from storage.db import Database


def order_service(
    db: Database, catalog: Catalog, pricing: Pricing, timeout: timedelta, *, limits: Limits | None = None
) -> OrderService:
    """The service with the default refund policy, and ``limits`` or the default ones."""
    return OrderService(db, catalog, pricing, timeout, policy=RefundPolicy(db, catalog), limits=limits or Limits())
