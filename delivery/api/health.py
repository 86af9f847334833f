"""``GET /healthz``: 200 when the database and Redis both answer, 503 naming what does not."""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp import web

from delivery.api.common import ctx_of, json_response
from delivery.services.timestamps import overdue_count


async def healthz(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    checks: dict[str, str] = {}
    try:
        async with ctx.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not healthy"; say which kind
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        checks["redis"] = "ok" if await ctx.queue.ping() else "error: no PONG"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    body: dict[str, object] = {"status": "ok" if healthy else "unhealthy", **checks}
    if healthy and ctx.settings.tsa_url is not None:
        # For the operator, not the load balancer: tokens late do not make the service unhealthy.
        body["timestamps_overdue"] = await overdue_count(ctx)
    return json_response(body, status=200 if healthy else 503)
