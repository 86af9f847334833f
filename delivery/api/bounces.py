"""``POST /api/v1/bounces``: the court's bounce processor reports a delivery status notification."""

from __future__ import annotations

from aiohttp import web

from delivery.api.bodies import read_json
from delivery.api.common import ctx_of, json_response, require_api_key
from delivery.api.problems import not_found, validation_problem
from delivery.services.bounces import record_bounce


async def report_bounce(request: web.Request) -> web.Response:
    key = require_api_key(request)
    body = await read_json(request)
    errors = [
        {"field": n, "message": "unknown field"}
        for n in sorted(set(body) - {"message_id", "diagnostic"})
    ]
    message_id = body.get("message_id")
    if not isinstance(message_id, str) or not message_id.strip() or len(message_id) > 300:
        errors.append({"field": "message_id", "message": "the Message-ID of the bounced e-mail"})
    diagnostic = body.get("diagnostic", "")
    if not isinstance(diagnostic, str) or len(diagnostic) > 2000:
        errors.append({"field": "diagnostic", "message": "the DSN's diagnostic text (≤ 2000)"})
    if errors:
        raise validation_problem(errors)
    assert isinstance(message_id, str)
    outcome = await record_bounce(
        ctx_of(request),
        message_id.strip(),
        diagnostic,
        courts=key.courts,
        actor=f"api_key:{key.id}",
    )
    if outcome is None:
        raise not_found("e-mail with that Message-ID")
    return json_response(
        {
            "dispatch_id": outcome.dispatch_id,
            "attempt_id": outcome.attempt_id,
            "recorded": outcome.recorded,
            "unserved": outcome.unserved,
        }
    )
