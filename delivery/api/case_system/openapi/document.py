"""The OpenAPI 3.1 document of the case-system API; a test keeps it in step with the routes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from delivery.api.case_system.openapi.case_group_paths import CASE_GROUP_PATHS
from delivery.api.case_system.openapi.components import COMPONENTS
from delivery.api.case_system.openapi.dispatch_paths import DISPATCH_PATHS
from delivery.api.case_system.openapi.service_paths import SERVICE_PATHS
from delivery.api.case_system.openapi.webhook_schemas import TIMES, WEBHOOKS
from delivery.api.http.request_context import json_response
from delivery.vocabulary import WebhookEventType

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Songda case-system API",
        "version": "1",
        "description": (
            "Electronic service of process. Authenticate with `Authorization: Bearer <API key>`, "
            "or, for staff, with the `songda_session` cookie from `/login` (clerk or supervisor "
            "role); with the cookie, POST/DELETE need the session's CSRF token in `X-CSRF-Token`. "
            "Errors are RFC 9457 problem+json. Webhooks follow the Standard Webhooks spec; "
            f"event types: {', '.join(WebhookEventType)} (`webhooks` below: one payload "
            "schema each). Webhook timestamps are wall-clock: " + TIMES
        ),
    },
    "components": COMPONENTS,
    "security": [{"bearer": []}, {"staff_session": []}],
    "paths": {**DISPATCH_PATHS, **SERVICE_PATHS, **CASE_GROUP_PATHS},
    "webhooks": WEBHOOKS,
}


async def openapi(_request: web.Request) -> web.Response:
    return json_response(SPEC)
