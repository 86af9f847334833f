"""Shared limits (issue 12): per-address limits on every public endpoint, counted in Redis so
that N web processes allow what one allows; what happens without Redis; and the headers every
response carries ("headers": nosniff, no version in Server, CSP and no framing on pages)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from conftest import REDIS_URL
from helpers import behind_proxy, from_address, without_redis

from delivery.api.app import create_app
from delivery.clock import ManualClock
from delivery.config import LimitSettings
from delivery.context import Context
from delivery.ids import new_id
from delivery.infra.rate_limits import Rule
from delivery.jobs.job_queue import JobQueue

Client = TestClient[Any, Any]
PER_MINUTE, PDFS_PER_MINUTE = 5, 2
PUBLIC_PAGES = [
    "/notices",
    f"/notices/{new_id()}",
    f"/verify/{new_id()}",
    "/check",
    "/r/not-a-token",
    "/.well-known/songda-keys.json",
    "/login",
]


@pytest.fixture
async def other_process(ctx: Context) -> AsyncIterator[Context]:
    """A second web process of the same deployment: its own context and Redis connection,
    the same settings (queue name) and database."""
    queue = await JobQueue.connect(REDIS_URL, ctx.settings.queue_name)
    try:
        yield dataclasses.replace(ctx, queue=queue)
    finally:
        await queue.close()


async def _check(client: Client) -> int:
    response = await client.post("/check", data={"code": "ABCD-2345", "last4": "0000"})
    return response.status


async def test_the_check_limit_is_shared_by_every_web_process(
    ctx: Context, other_process: Context, aiohttp_client: Callable[..., Any]
) -> None:
    one: Client = await aiohttp_client(create_app(ctx))
    other: Client = await aiohttp_client(create_app(other_process))
    tries = ctx.settings.limits.checks_per_15_minutes
    assert [await _check(one) for _ in range(tries)] == [200] * tries
    assert await _check(other) == 429  # per process, it would have allowed as many again
    assert await _check(one) == 429


@pytest.fixture
async def public(ctx: Context, aiohttp_client: Callable[..., Any]) -> Client:
    """The app behind a proxy, with small public limits."""
    limits = LimitSettings(public_per_minute=PER_MINUTE, pdfs_per_minute=PDFS_PER_MINUTE)
    proxied = behind_proxy(ctx)
    small = dataclasses.replace(
        proxied, settings=dataclasses.replace(proxied.settings, limits=limits)
    )
    return await aiohttp_client(create_app(small))  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
async def test_every_public_endpoint_is_limited_per_address(
    public: Client, clock: ManualClock, path: str
) -> None:
    here, there = from_address("203.0.113.5"), from_address("198.51.100.5")
    for _ in range(PER_MINUTE):
        assert (await public.get(path, headers=here)).status != 429
    limited = await public.get(path, headers=here)
    assert limited.status == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    if path.startswith("/.well-known/"):
        assert limited.content_type == "application/problem+json"
    else:
        assert "请求过于频繁" in await limited.text()
    assert (await public.get(path, headers=there)).status != 429  # another address is not
    clock.advance(timedelta(minutes=1))
    assert (await public.get(path, headers=here)).status != 429


async def test_public_notice_pdfs_have_their_own_lower_limit(public: Client) -> None:
    here = from_address("203.0.113.6")
    path = f"/notices/{new_id()}.pdf"
    statuses = [(await public.get(path, headers=here)).status for _ in range(PDFS_PER_MINUTE + 1)]
    assert statuses == [404] * PDFS_PER_MINUTE + [429]
    assert (await public.get("/notices", headers=here)).status == 200  # pages still served


async def test_staff_and_api_endpoints_are_not_counted(public: Client) -> None:
    here = from_address("203.0.113.7")
    for path in ["/api/v1/openapi.json", "/healthz", "/staff/queue", "/static/workspace.js"]:
        for _ in range(PER_MINUTE + 1):
            assert (await public.get(path, headers=here, allow_redirects=False)).status != 429


async def test_without_redis_pages_are_served_and_check_is_refused(
    ctx: Context, aiohttp_client: Callable[..., Any]
) -> None:
    async with without_redis(ctx) as down:
        client: Client = await aiohttp_client(create_app(down))
        board = await client.get("/notices")
        assert board.status == 200  # load spreading only: the notice board stays readable
        check = await client.post("/check", data={"code": "ABCD-2345", "last4": "0000"})
        assert check.status == 503  # a guessing limit: never run unlimited
        assert int(check.headers["Retry-After"]) > 0


async def test_a_clock_set_back_forgets_tries_counted_ahead(
    ctx: Context, clock: ManualClock
) -> None:
    """The sandbox forgets its clock's move when it restarts: tries counted on the moved clock
    must not block the rest of the window on the real one."""
    rule = Rule("test:clock", 2, timedelta(days=1))
    clock.advance(timedelta(days=30))
    assert await ctx.limits.hit(rule) is None
    assert await ctx.limits.hit(rule) is None
    assert await ctx.limits.hit(rule) == timedelta(days=1)
    clock.advance(timedelta(days=-30))
    assert await ctx.limits.hit(rule) is None


async def _boom(_request: web.Request) -> web.Response:
    raise RuntimeError("a bug")


async def test_every_kind_of_response_carries_the_security_headers(
    ctx: Context, aiohttp_client: Callable[..., Any], api_key: str
) -> None:
    app = create_app(ctx)
    app.router.add_get("/boom", _boom)
    client: Client = await aiohttp_client(app)
    responses = {
        "page": await client.get("/notices"),
        "login page": await client.get("/login"),
        "JSON": await client.get("/api/v1/openapi.json"),
        "API problem": await client.get("/api/v1/dispatches"),
        "API 404": await client.get("/api/v1/nothing-here"),
        "page 404": await client.get("/nothing-here"),
        "page 405": await client.delete("/notices"),
        "page 500": await client.get("/boom"),
        "static": await client.get("/static/workspace.js"),
        "public 404 page": await client.get(f"/verify/{new_id()}"),
        "redirect": await client.get("/staff/queue", allow_redirects=False),
        "health": await client.get("/healthz"),
    }
    for what, response in responses.items():
        headers = response.headers
        assert headers.get("X-Content-Type-Options") == "nosniff", what
        assert headers.get("Server") == "Songda", (what, headers.get("Server"))
        if response.content_type in ("text/html", "text/plain"):
            assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), what
            assert headers.get("X-Frame-Options") == "DENY", what
    assert responses["page 500"].status == 500
    assert responses["page 404"].status == 404
