"""A small round-robin HTTP load balancer (aiohttp) in front of several bot replicas' webhook servers.

What a reverse proxy does for replicas in webhook mode: each request goes to the next backend in turn, with
its path, headers (the secret token among them) and body; a backend that refuses the connection (a replica
that died) is skipped and the request is tried on the next one, so Telegram sees a failure only when every
backend refuses, or when the backend dies after it took the request (502, as it may have handled
it: Telegram sends it again). :attr:`Balancer.served` counts which backend answered each request.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Self

import aiohttp
from aiohttp import web

HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


class Balancer:
    def __init__(self, backends: list[str]) -> None:
        """``backends``: base URLs (``http://127.0.0.1:<port>``) the requests' paths are appended to."""
        self.backends = backends
        self.url = ""
        self.served: Counter[str] = Counter()  # backend -> requests it answered
        self.refused: Counter[str] = Counter()  # backend -> connections it refused
        self.failed: Counter[str] = Counter()  # backend -> requests it took and never answered
        self._turn = itertools.count()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        first = next(self._turn)
        for i in range(len(self.backends)):
            backend = self.backends[(first + i) % len(self.backends)]
            try:
                async with self._session.request(
                    request.method, backend + request.path_qs, data=body, headers=headers
                ) as answer:
                    content = await answer.read()
                    kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
            except aiohttp.ClientConnectorError:  # nothing listens there (any more): the next one
                self.refused[backend] += 1
                continue
            except (aiohttp.ClientError, TimeoutError):  # it took the request and died: Telegram retries later
                self.failed[backend] += 1
                return web.Response(status=502, text="the backend failed mid-request")
            self.served[backend] += 1
            return web.Response(status=answer.status, body=content, headers=kept)
        return web.Response(status=502, text="no backend took the connection")
