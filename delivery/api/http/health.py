"""``GET /healthz``: 200 when the database and the queue (Redis) both answer, 503 naming the
one that does not (``{"database": "down", "queue": "ok"}``), each within a few seconds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from delivery.api.http.outages import DATABASE, QUEUE, RETRY_AFTER_SECONDS
from delivery.api.http.request_context import ctx_of, json_response
from delivery.context import Context
from delivery.services.sms_health import provider_standings
from delivery.services.timestamps import overdue_count
from delivery.storage.engine import database_answers

log = logging.getLogger(__name__)
CHECK_SECONDS = 3.0  # a load balancer's probe must not hang on a server that stopped answering
UP, DOWN = "ok", "down"


async def _database_answers(ctx: Context) -> bool:
    return await database_answers(ctx.engine)


async def _queue_answers(ctx: Context) -> bool:
    return await ctx.queue.ping()


async def _check(name: str, answers: Callable[[Context], Awaitable[bool]], ctx: Context) -> str:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            return UP if await answers(ctx) else DOWN
    except Exception as exc:  # any failure means "down"; the log says which kind
        log.warning("health check failed", extra={"dependency": name, "error": type(exc).__name__})
        return DOWN


async def healthz(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    database, queue = await asyncio.gather(
        _check(DATABASE, _database_answers, ctx), _check(QUEUE, _queue_answers, ctx)
    )
    healthy = database == UP and queue == UP
    body: dict[str, object] = {
        "status": "ok" if healthy else "unhealthy",
        DATABASE: database,
        QUEUE: queue,
    }
    if healthy and ctx.settings.tsa_url is not None:
        # For the operator, not the load balancer: tokens late do not make the service unhealthy.
        body["timestamps_overdue"] = await overdue_count(ctx)
    if healthy:
        # The SMS providers' standings in the failover, for the operator (decision 0045).
        states = (await provider_standings(ctx.engine, limit=0)).states
        if states:
            body["sms_providers"] = {name: state for name, (state, _since) in states.items()}
    response = json_response(body, status=200 if healthy else 503)
    if not healthy:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
