"""A webhook receiver on loopback: what the outbox delivers to a case system, recorded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Receiver:
    """A webhook receiver on loopback: answers ``status``, or 503 for the first ``fail_first``."""

    status: int = 204
    fail_first: int = 0
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append((dict(request.headers), await request.read()))
        return web.Response(status=503 if len(self.calls) <= self.fail_first else self.status)

    def types(self) -> list[str]:
        return [json.loads(body)["type"] for _headers, body in self.calls]

    def has(self, event_type: str, times: int = 1) -> Callable[[], Awaitable[bool]]:
        """An ``eventually`` check: this type arrived at least ``times`` times."""

        async def check() -> bool:
            return self.types().count(event_type) >= times

        return check

    def called(self, times: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return len(self.calls) >= times

        return check


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server = TestServer(app)
    await server.start_server()
    receiver.url = str(server.make_url("/hook"))
    try:
        yield receiver
    finally:
        await server.close()
