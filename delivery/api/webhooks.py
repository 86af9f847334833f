"""Webhook endpoints (the signing secret is shown once) and their deliveries (list, retry)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from aiohttp import web

from delivery.api.common import caller, ctx_of, json_response, path_id, read_json
from delivery.api.problems import Problem, not_found, validation_problem
from delivery.clock import rfc3339
from delivery.ids import new_id
from delivery.services.webhook_delivery import retry_delivery
from delivery.storage.outbox import DELIVERY_DELIVERED, DELIVERY_FAILED, DELIVERY_PENDING
from delivery.storage.schema import outbox_messages, webhook_deliveries, webhook_endpoints
from tracking.webhooks import new_secret

EVENT_TYPES = (
    "dispatch.created",
    "dispatch.escalated",
    "dispatch.at_risk",
    "dispatch.notice_awaiting_approval",
    "dispatch.notice_published",
    "dispatch.served",
    "dispatch.unserved",
    "dispatch.failed",
    "dispatch.cancelled",
    "attempt.updated",
)


def _endpoint_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "event_types": row.event_types,
        "enabled": row.enabled,
        "disabled_reason": row.disabled_reason,
        "created_at": rfc3339(row.created_at),
    }


async def create_endpoint(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    body = await read_json(request)
    errors: list[dict[str, str]] = []
    if not isinstance(body, dict):
        raise validation_problem([{"field": "", "message": "the body must be a JSON object"}])
    errors.extend(
        {"field": n, "message": "unknown field"} for n in sorted(set(body) - {"url", "event_types"})
    )
    url = body.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or len(str(url)) > 2000
    ):
        errors.append({"field": "url", "message": "must be an absolute http(s) URL"})
    types = body.get("event_types")
    if types is not None and (
        not isinstance(types, list) or not types or any(t not in EVENT_TYPES for t in types)
    ):
        errors.append(
            {"field": "event_types", "message": f"a non-empty subset of {', '.join(EVENT_TYPES)}"}
        )
    if errors:
        raise validation_problem(errors)
    secret = new_secret()
    endpoint_id = new_id()
    async with ctx.engine.begin() as conn:
        await conn.execute(
            webhook_endpoints.insert().values(
                id=endpoint_id,
                api_key_id=caller(request).id,
                url=url,
                secret=secret,
                event_types=types,
                enabled=True,
                created_at=ctx.clock.now(),
            )
        )
        row = (
            await conn.execute(
                sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
            )
        ).one()
    return json_response({**_endpoint_view(row), "secret": secret}, status=201)


def _own_endpoints(request: web.Request) -> sa.Select[Any]:
    return sa.select(webhook_endpoints).where(
        webhook_endpoints.c.api_key_id == caller(request).id,
        webhook_endpoints.c.deleted_at.is_(None),
    )


async def list_endpoints(request: web.Request) -> web.Response:
    async with ctx_of(request).engine.connect() as conn:
        rows = (await conn.execute(_own_endpoints(request).order_by(webhook_endpoints.c.id))).all()
    return json_response({"items": [_endpoint_view(r) for r in rows]})


async def delete_endpoint(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    endpoint_id = path_id(request, "endpoint_id", "webhook endpoint")
    async with ctx.engine.begin() as conn:
        result = await conn.execute(
            webhook_endpoints.update()
            .where(
                webhook_endpoints.c.id == endpoint_id,
                webhook_endpoints.c.api_key_id == caller(request).id,
                webhook_endpoints.c.deleted_at.is_(None),
            )
            .values(deleted_at=ctx.clock.now(), enabled=False)
        )
    if result.rowcount != 1:
        raise not_found("webhook endpoint")
    return web.Response(status=204)


def _own_deliveries(request: web.Request) -> sa.Select[Any]:
    d = webhook_deliveries
    return (
        sa.select(
            d.c.id,
            d.c.endpoint_id,
            d.c.state,
            d.c.tries,
            d.c.next_attempt_at,
            d.c.last_status,
            d.c.last_error,
            d.c.created_at,
            d.c.delivered_at,
            outbox_messages.c.type,
            outbox_messages.c.dispatch_id,
            outbox_messages.c.id.label("message_id"),
        )
        .join(outbox_messages, outbox_messages.c.id == d.c.message_id)
        .join(webhook_endpoints, webhook_endpoints.c.id == d.c.endpoint_id)
        .where(webhook_endpoints.c.api_key_id == caller(request).id)
    )


def _delivery_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "endpoint_id": row.endpoint_id,
        "message_id": row.message_id,
        "type": row.type,
        "dispatch_id": row.dispatch_id,
        "state": row.state,
        "tries": row.tries,
        "next_attempt_at": rfc3339(row.next_attempt_at) if row.next_attempt_at else None,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "created_at": rfc3339(row.created_at),
        "delivered_at": rfc3339(row.delivered_at) if row.delivered_at else None,
    }


async def list_deliveries(request: web.Request) -> web.Response:
    state = request.query.get("state")
    if state is not None and state not in (DELIVERY_PENDING, DELIVERY_DELIVERED, DELIVERY_FAILED):
        raise validation_problem([{"field": "state", "message": "pending, delivered or failed"}])
    query = _own_deliveries(request)
    if state:
        query = query.where(webhook_deliveries.c.state == state)
    async with ctx_of(request).engine.connect() as conn:
        rows = (await conn.execute(query.order_by(webhook_deliveries.c.id.desc()).limit(200))).all()
    return json_response({"items": [_delivery_view(r) for r in rows]})


async def retry(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    delivery_id = path_id(request, "delivery_id", "webhook delivery")
    query = _own_deliveries(request).where(webhook_deliveries.c.id == delivery_id)
    async with ctx.engine.connect() as conn:
        if (await conn.execute(query)).first() is None:
            raise not_found("webhook delivery")
    if not await retry_delivery(ctx, delivery_id):
        raise Problem(409, "already-delivered", "The delivery already succeeded")
    async with ctx.engine.connect() as conn:
        row = (await conn.execute(query)).one()
    return json_response(_delivery_view(row), status=202)
