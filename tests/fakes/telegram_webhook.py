"""The fake Bot API's webhook side: ``setWebhook`` checked like Telegram, and queued updates POSTed to it.

Like Telegram's cloud, ``setWebhook`` takes only https on port 443, 80, 88 or 8443; a :class:`Webhook`
made with ``local=True`` is a self-hosted Bot API server run with ``--local``, which takes http and any
port (what tests posting to a bot on the loopback need).

While a webhook is set, :class:`FakeTelegram`'s queued updates go to its URL one at a time, in order,
as JSON with the ``X-Telegram-Bot-Api-Secret-Token`` header; an update is dropped once the bot answered
2xx, and a non-2xx answer or a connection error is retried after :attr:`Webhook.retry_delay`, as Telegram
retries. ``getUpdates`` is refused (409) meanwhile. :meth:`Webhook.post` sends one raw update with a
chosen secret, for testing what the bot does with a request Telegram would not send.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from tests.fakes.telegram_objects import bad_request

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
#: the only ports Telegram's cloud posts webhook updates to
CLOUD_PORTS = (443, 80, 88, 8443)
CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)


class Webhook:
    """The webhook Telegram holds for the bot, and the task delivering to it.

    ``next_update`` awaits the next update to deliver (never removing it); ``delivered`` drops it."""

    def __init__(
        self,
        next_update: Callable[[], Any],
        delivered: Callable[[dict[str, Any]], None],
        retry_delay: float = 0.3,
        *,
        local: bool = False,
    ) -> None:
        self.url = ""
        self.local = local  # a self-hosted server in --local mode: http and any port are fine
        self.secret: str | None = None
        self.retry_delay = retry_delay
        self.posts: list[tuple[int, int]] = []  # (update id, HTTP status or 0 for no connection), in order
        self._next_update = next_update
        self._delivered = delivered
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def set(self, params: dict[str, Any]) -> bool:
        """setWebhook: an empty url removes the webhook, as on Telegram."""
        url = str(params.get("url") or "")
        if not url:
            return self.delete()
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            port = 0
        if parts.scheme not in ("http", "https") or not parts.hostname or not port:
            raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        if not self.local and parts.scheme != "https":
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if not self.local and port not in CLOUD_PORTS:
            raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET.fullmatch(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        self.url, self.secret = url, secret
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._deliver())
        return True

    def delete(self) -> bool:
        self.url, self.secret = "", None
        return True

    def info(self, pending: int, allowed_updates: list[str]) -> dict[str, Any]:
        info: dict[str, Any] = {"url": self.url, "has_custom_certificate": False, "pending_update_count": pending}
        if self.url and allowed_updates:
            info["allowed_updates"] = list(allowed_updates)
        return info

    async def close(self) -> None:
        self.delete()
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def post(self, update: dict[str, Any], secret: str | None) -> int:
        """POST ``update`` to the webhook with ``secret`` as the header (None: no header); the HTTP status,
        0 when the connection failed."""
        if not self.url:
            raise AssertionError("no webhook is set")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        try:
            async with self._session.post(self.url, data=json.dumps(update), headers=headers) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, OSError, TimeoutError):
            return 0

    async def _deliver(self) -> None:
        while self.url:
            update = await self._next_update()
            if update is None or not self.url:  # woken with nothing to send, or the webhook was removed
                continue
            status = await self.post(update, self.secret)
            self.posts.append((update["update_id"], status))
            if 200 <= status < 300:
                self._delivered(update)
            else:
                await asyncio.sleep(self.retry_delay)
