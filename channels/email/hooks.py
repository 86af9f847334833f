"""``POST /api/v1/bounces``: the court's bounce processor reports a delivery status notification.

Only a key with the ``bounces`` scope may (a bounce reverses service); the report names the
Message-ID and the recipient address, and both must be the attempt's.
"""

from __future__ import annotations

from aiohttp import web

from channels.email.receipts import RecipientMismatch, record_bounce
from delivery.api.http.bodies import read_json
from delivery.api.http.problems import Problem, not_found, validation_problem
from delivery.api.http.request_context import ctx_of, json_response, require_api_key
from delivery.services.api_keys import BOUNCES_SCOPE

FIELDS = frozenset({"message_id", "recipient", "diagnostic"})
MAX_ADDRESS = 320  # RFC 5321: 64 + @ + 255


def _text(body: dict[str, object], name: str, limit: int) -> str | None:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        return None
    return value.strip()


async def report_bounce(request: web.Request) -> web.Response:
    key = require_api_key(request)
    if not key.may(BOUNCES_SCOPE):
        raise Problem(
            403,
            "scope-required",
            "This API key may not report bounces",
            f"bounces reverse service: use a key created with --scope {BOUNCES_SCOPE}",
        )
    body = await read_json(request)
    errors = [{"field": n, "message": "unknown field"} for n in sorted(set(body) - FIELDS)]
    message_id = _text(body, "message_id", 300)
    if message_id is None:
        errors.append({"field": "message_id", "message": "the Message-ID of the bounced e-mail"})
    recipient = _text(body, "recipient", MAX_ADDRESS)
    if recipient is None:
        errors.append({"field": "recipient", "message": "the address the e-mail bounced for"})
    diagnostic = body.get("diagnostic", "")
    if not isinstance(diagnostic, str) or len(diagnostic) > 2000:
        errors.append({"field": "diagnostic", "message": "the DSN's diagnostic text (≤ 2000)"})
    if errors:
        raise validation_problem(errors)
    assert message_id is not None and recipient is not None and isinstance(diagnostic, str)
    try:
        outcome = await record_bounce(
            ctx_of(request),
            message_id,
            recipient,
            diagnostic,
            courts=key.courts,
            actor=f"api_key:{key.id}",
        )
    except RecipientMismatch:
        raise validation_problem(
            [{"field": "recipient", "message": "not the address that e-mail was sent to"}]
        ) from None
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
