"""Outages answer honestly (issue 12, item 3): while PostgreSQL or Redis cannot be reached,
the API and pages answer 503 with ``Retry-After`` within 5 s — never a 500, never a hang — and
``/healthz`` names the dependency that is down; once it is back, everything answers again.

The outage is a proxy the test cuts (``tests/tcp_proxy.py``), never the shared servers.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient
from api_client import Api
from conftest import REDIS_URL
from tcp_proxy import TcpProxy, proxied

from delivery.api.app import create_app
from delivery.context import Context
from delivery.jobs.job_queue import JobQueue
from delivery.storage.engine import create_engine

WITHIN_SECONDS = 5.0


def _through(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.replace(f":{parts.port}", f":{proxy.port}")).geturl()


async def _timed_get(client: TestClient[Any, Any], path: str, **options: Any) -> Any:
    started = time.monotonic()
    response = await client.get(path, **options)
    await response.read()
    assert time.monotonic() - started < WITHIN_SECONDS, path
    return response


@pytest.fixture
async def database_proxy(ctx: Context) -> AsyncIterator[tuple[TcpProxy, Context]]:
    """The test's context with its database reached through a proxy the test can cut."""
    parts = urlsplit(ctx.settings.database_url)
    async with proxied(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        engine = create_engine(_through(ctx.settings.database_url, proxy))
        yield proxy, dataclasses.replace(ctx, engine=engine)
        await engine.dispose()


@pytest.fixture
async def queue_proxy(ctx: Context) -> AsyncIterator[tuple[TcpProxy, Context]]:
    """The test's context with Redis reached through a proxy the test can cut."""
    parts = urlsplit(REDIS_URL)
    async with proxied(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        queue = await JobQueue.connect(_through(REDIS_URL, proxy), ctx.settings.queue_name)
        yield proxy, dataclasses.replace(ctx, queue=queue)
        await queue.close()


async def test_database_down_answers_503_with_retry_after_then_recovers(
    api: Api,
    database_proxy: tuple[TcpProxy, Context],
    aiohttp_client: Callable[..., Any],
) -> None:
    proxy, proxied_ctx = database_proxy
    created = await api.new_dispatch()
    client = await aiohttp_client(create_app(proxied_ctx))
    path = f"/api/v1/dispatches/{created['id']}"
    assert (await client.get(path, headers=api.auth)).status == 200

    proxy.cut()
    read = await _timed_get(client, path, headers=api.auth)
    assert read.status == 503
    assert read.content_type == "application/problem+json"
    assert int(read.headers["Retry-After"]) > 0
    problem = await read.json()
    assert problem["dependency"] == "database"
    listing = await _timed_get(client, "/api/v1/dispatches", headers=api.auth)
    assert listing.status == 503
    page = await _timed_get(client, "/notices?lang=en")
    assert page.status == 503
    assert page.content_type == "text/html"
    assert "Retry-After" in page.headers
    assert "database" in await page.text()
    health = await _timed_get(client, "/healthz")
    assert health.status == 503
    assert await health.json() == {"status": "unhealthy", "database": "down", "queue": "ok"}

    await proxy.restore()
    assert (await client.get(path, headers=api.auth)).status == 200
    assert (await client.get("/healthz")).status == 200


async def test_the_first_read_after_a_database_restart_answers(
    api: Api,
    database_proxy: tuple[TcpProxy, Context],
    aiohttp_client: Callable[..., Any],
) -> None:
    """A restart drops the pooled connections; the next read meets a dead one and is answered
    on a fresh connection, not with a 503 for a database that is back."""
    proxy, proxied_ctx = database_proxy
    created = await api.new_dispatch()
    client = await aiohttp_client(create_app(proxied_ctx))
    path = f"/api/v1/dispatches/{created['id']}"
    assert (await client.get(path, headers=api.auth)).status == 200

    proxy.cut()  # the server restarts: every open connection is dropped
    await proxy.restore()
    read = await client.get(path, headers=api.auth)
    assert read.status == 200, await read.text()
    assert (await read.json())["id"] == created["id"]


async def test_queue_down_is_named_by_healthz_and_writes_are_still_recorded(
    api: Api,
    queue_proxy: tuple[TcpProxy, Context],
    aiohttp_client: Callable[..., Any],
) -> None:
    proxy, proxied_ctx = queue_proxy
    api.client = await aiohttp_client(create_app(proxied_ctx))
    body = await api.new_dispatch_body()

    proxy.cut()
    health = await _timed_get(api.client, "/healthz")
    assert health.status == 503
    assert await health.json() == {"status": "unhealthy", "database": "ok", "queue": "down"}
    started = time.monotonic()
    created = await api.create(body)  # recorded: the sweep enqueues its work once Redis is back
    assert time.monotonic() - started < WITHIN_SECONDS
    assert (await api.dispatch(created["id"]))["attempts"][0]["state"] == "pending"

    await proxy.restore()
    assert (await api.client.get("/healthz")).status == 200
