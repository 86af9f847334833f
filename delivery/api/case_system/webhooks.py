"""Webhook endpoints (the signing secret is shown once) and their deliveries (list, retry).

The handlers check requests and render JSON; reading and changing endpoints and deliveries is
``services.webhook_endpoints``, so these only translate HTTP into those calls.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from delivery.api.http.bodies import read_json
from delivery.api.http.problems import Problem, not_found, validation_problem
from delivery.api.http.request_context import ctx_of, json_response, path_id, require_api_key
from delivery.clock import rfc3339
from delivery.services import webhook_endpoints
from delivery.services.webhook_delivery import retry_delivery
from delivery.storage.outbox import DELIVERY_DELIVERED, DELIVERY_FAILED, DELIVERY_PENDING
from delivery.storage.webhooks import WebhookDelivery, WebhookEndpoint
from delivery.vocabulary import WebhookEventType
from tracking.webhook_targets import RULE_URL, Refusal, url_refusal

MAX_URL_LENGTH = 2000

EVENT_TYPES = tuple(WebhookEventType)


def _endpoint_view(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": rfc3339(endpoint.created_at),
    }


async def create_endpoint(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    key = require_api_key(request)
    body = await read_json(request)
    errors: list[dict[str, str]] = []
    errors.extend(
        {"field": n, "message": "unknown field"} for n in sorted(set(body) - {"url", "event_types"})
    )
    url = body.get("url")
    refusal = (
        url_refusal(url, ctx.settings.webhook_targets)
        if isinstance(url, str) and len(url) <= MAX_URL_LENGTH
        else Refusal(
            RULE_URL, f"must be an absolute https URL of at most {MAX_URL_LENGTH} characters"
        )
    )
    if refusal is not None:
        errors.append({"field": "url", "rule": refusal.rule, "message": refusal.message})
    types = body.get("event_types")
    if types is not None and (
        not isinstance(types, list) or not types or any(t not in EVENT_TYPES for t in types)
    ):
        errors.append(
            {"field": "event_types", "message": f"a non-empty subset of {', '.join(EVENT_TYPES)}"}
        )
    if errors:
        raise validation_problem(errors)
    assert isinstance(url, str)
    endpoint, secret = await webhook_endpoints.create_endpoint(ctx, key, url, types)
    return json_response({**_endpoint_view(endpoint), "secret": secret}, status=201)


async def list_endpoints(request: web.Request) -> web.Response:
    endpoints = await webhook_endpoints.list_endpoints(ctx_of(request), require_api_key(request))
    return json_response({"items": [_endpoint_view(e) for e in endpoints]})


async def delete_endpoint(request: web.Request) -> web.Response:
    key = require_api_key(request)
    endpoint_id = path_id(request, "endpoint_id", "webhook endpoint")
    if not await webhook_endpoints.delete_endpoint(ctx_of(request), key, endpoint_id):
        raise not_found("webhook endpoint")
    return web.Response(status=204)


def _delivery_view(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "message_id": delivery.message_id,
        "type": delivery.type,
        "dispatch_id": delivery.dispatch_id,
        "state": delivery.state,
        "tries": delivery.tries,
        "next_attempt_at": rfc3339(delivery.next_attempt_at) if delivery.next_attempt_at else None,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "created_at": rfc3339(delivery.created_at),
        "delivered_at": rfc3339(delivery.delivered_at) if delivery.delivered_at else None,
    }


async def list_deliveries(request: web.Request) -> web.Response:
    key = require_api_key(request)
    state = request.query.get("state")
    if state is not None and state not in (DELIVERY_PENDING, DELIVERY_DELIVERED, DELIVERY_FAILED):
        raise validation_problem([{"field": "state", "message": "pending, delivered or failed"}])
    deliveries = await webhook_endpoints.list_deliveries(ctx_of(request), key, state)
    return json_response({"items": [_delivery_view(d) for d in deliveries]})


async def _own_delivery(request: web.Request, delivery_id: str) -> WebhookDelivery:
    delivery = await webhook_endpoints.get_delivery(
        ctx_of(request), require_api_key(request), delivery_id
    )
    if delivery is None:
        raise not_found("webhook delivery")
    return delivery


async def retry(request: web.Request) -> web.Response:
    require_api_key(request)
    delivery_id = path_id(request, "delivery_id", "webhook delivery")
    await _own_delivery(request, delivery_id)
    if not await retry_delivery(ctx_of(request), delivery_id):
        raise Problem(409, "already-delivered", "The delivery already succeeded")
    return json_response(_delivery_view(await _own_delivery(request, delivery_id)), status=202)
