"""A built-in simulated upstream, so a fresh install works end to end before any key is set.

Stateless by design: the upstream id encodes the purchase time, so ``check`` derives the SMS
from the id alone and an order survives a restart of the bot. Cancels and finishes are kept in
``state_file`` (next to the database) so they survive a restart too, as at a real upstream.
Every number and code is labelled demo to users (``is_demo``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from providers.base import Balance, Offer, Provider, Purchase, Sms, Status, UpstreamState
from providers.errors import OrderNotFound, OutOfStock
from providers.names import service_name

#: country -> (dialling prefix, {service: (cost in USD cents, stock)})
CATALOG: dict[str, tuple[str, dict[str, tuple[int, int]]]] = {
    "US": ("1555", {"whatsapp": (45, 120), "telegram": (60, 80), "google": (30, 200), "amazon": (25, 50)}),
    "GB": ("4477", {"whatsapp": (55, 40), "telegram": (70, 25), "google": (35, 90)}),
    "DE": ("4915", {"whatsapp": (50, 30), "telegram": (65, 15), "facebook": (20, 60)}),
    "ID": ("628", {"whatsapp": (12, 500), "telegram": (18, 300), "google": (9, 400), "shopee": (8, 250)}),
    "BR": ("5511", {"whatsapp": (22, 150), "telegram": (28, 100), "instagram": (15, 80)}),
    "IN": ("9198", {"whatsapp": (14, 220), "telegram": (20, 180), "google": (10, 300)}),
}


class DemoProvider(Provider):
    name = "demo"
    is_demo = True

    def __init__(
        self,
        sms_delay_seconds: float = 8.0,
        lifetime: timedelta = timedelta(minutes=20),
        state_file: Path | None = None,
    ) -> None:
        self.sms_delay = sms_delay_seconds
        self.lifetime = lifetime
        self._sold: dict[tuple[str, str], int] = {}
        self.state_file = state_file
        self._closed: dict[str, UpstreamState] = {}
        if state_file is not None and state_file.exists():
            self._closed = {k: UpstreamState(v) for k, v in json.loads(state_file.read_text()).items()}

    def _close(self, upstream_id: str, state: UpstreamState) -> None:
        """Remember a cancel or finish, on disk when configured, as a real upstream would."""
        self._closed[upstream_id] = state
        if self.state_file is not None:
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._closed))
            tmp.replace(self.state_file)

    async def offers(self, country: str | None = None) -> list[Offer]:
        return [
            Offer(self.name, service, code, cost, "USD", max(stock - self._sold.get((code, service), 0), 0))
            for code, (_, services) in CATALOG.items()
            if country is None or code == country.upper()
            for service, (cost, stock) in services.items()
        ]

    async def buy(self, offer: Offer) -> Purchase:
        prefix, services = CATALOG.get(offer.country, ("", {}))
        if offer.service not in services:
            raise OutOfStock("not sold here", provider=self.name)
        cost, stock = services[offer.service]
        key = (offer.country, offer.service)
        if self._sold.get(key, 0) >= stock:
            raise OutOfStock("sold out", provider=self.name)
        self._sold[key] = self._sold.get(key, 0) + 1
        now_ms = int(time.time() * 1000)
        upstream_id = f"demo-{offer.service}-{now_ms}-{secrets.token_hex(3)}"
        digits = str(int(hashlib.sha256(upstream_id.encode()).hexdigest(), 16))
        phone = f"+{prefix}{digits[: 11 - len(prefix)]}"
        return Purchase(upstream_id, phone, datetime.now(UTC) + self.lifetime, cost)

    async def check(self, upstream_id: str) -> Status:
        try:
            _, service, bought_ms, _ = upstream_id.split("-")
            bought = int(bought_ms) / 1000
        except ValueError:
            raise OrderNotFound(upstream_id, provider=self.name) from None
        if upstream_id in self._closed:
            return Status(self._closed[upstream_id])
        if time.time() < bought + self.sms_delay:
            return Status(UpstreamState.WAITING)
        code = str(int(hashlib.sha256(f"code:{upstream_id}".encode()).hexdigest(), 16))[:6]
        text = f"[DEMO] {service_name(service)} code: {code}. Do not share it."
        return Status(UpstreamState.RECEIVED, (Sms(text, code, "DEMO"),))

    async def cancel(self, upstream_id: str) -> None:
        self._close(upstream_id, UpstreamState.CANCELLED)

    async def finish(self, upstream_id: str) -> None:
        self._close(upstream_id, UpstreamState.FINISHED)

    async def balance(self) -> Balance:
        return Balance(100_000, "USD")
