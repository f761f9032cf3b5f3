"""Serve an ``httpx.MockTransport`` fake of an upstream over real HTTP on 127.0.0.1.

The adapters' unit tests hand their fake to httpx directly; end-to-end tests run the real bot
process, which reaches upstreams only by URL (``<NAME>_BASE_URL``). This puts the same fake behind
a local aiohttp server, so the process under test talks to it over the loopback like to the real API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from aiohttp import web

HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding"}


@asynccontextmanager
async def serve(fake: httpx.AsyncBaseTransport, prefix: str = "") -> AsyncIterator[str]:
    """Yield the base URL (``http://127.0.0.1:<port><prefix>``) of a server answering with ``fake``."""

    async def handle(request: web.Request) -> web.Response:
        path = request.path_qs[len(prefix) :] if prefix and request.path_qs.startswith(prefix) else request.path_qs
        forwarded = httpx.Request(
            request.method,
            f"http://upstream.test{path}",
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            content=await request.read(),
        )
        answer = await fake.handle_async_request(forwarded)
        body = await answer.aread()
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
        return web.Response(status=answer.status_code, body=body, headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}{prefix}"
    finally:
        await runner.cleanup()
