"""What in an upstream's answer about an order is news: an SMS not stored yet (by fingerprint), or the order
closed upstream. :meth:`bot.orders.polling.Polling.record` acts on exactly that, and a poll run reads whole
and records only the orders whose bulk answer has news."""

from __future__ import annotations

from datetime import datetime

from providers.base import Sms, Status, UpstreamState
from storage import orders as order_rows

#: upstream states that close an order without a code
CLOSED_UPSTREAM = (UpstreamState.CANCELLED, UpstreamState.EXPIRED)


def news(status: Status, seen: set[str]) -> bool:
    """Is there anything to record in ``status``, given the order's stored SMS fingerprints ``seen``?"""
    if not status.sms:
        return status.state in CLOSED_UPSTREAM
    return not all(fp in seen for _, fp in prints_of(status))


def prints_of(status: Status) -> list[tuple[Sms, str]]:
    """Each SMS of ``status`` with its fingerprint."""
    return [(sms, order_rows.fingerprint(sms.text, _iso(sms.received_at))) for sms in status.sms]


def _iso(moment: datetime | None) -> str | None:
    """An SMS's receipt time as its fingerprint has always spelled it."""
    return moment.isoformat() if moment else None
