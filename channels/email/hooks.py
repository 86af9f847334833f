"""The court's mail processor: ``POST /api/v1/bounces`` and ``POST /api/v1/replies``.

Only a key with the ``bounces`` scope may (a bounce reverses service, a reply may serve). A bounce
names the Message-ID and the recipient address, and both must be the attempt's; a reply is the
raw RFC 5322 message (``message/rfc822``), matched by its In-Reply-To/References.
"""

from __future__ import annotations

from aiohttp import web

from channels.email.receipts import RecipientMismatch, record_bounce
from channels.email.replies import record_email_reply
from delivery.api.http.bodies import bounded_body, read_json
from delivery.api.http.problems import Problem, not_found, validation_problem
from delivery.api.http.request_context import ctx_of, json_response, require_api_key
from delivery.services.api_keys import BOUNCES_SCOPE, ApiKey

MAX_REPLY_BYTES = 1024 * 1024  # the headers decide; a reply's attachments need not come along
FIELDS = frozenset({"message_id", "recipient", "diagnostic"})
MAX_ADDRESS = 320  # RFC 5321: 64 + @ + 255


def _text(body: dict[str, object], name: str, limit: int) -> str | None:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        return None
    return value.strip()


def _mail_processor(request: web.Request) -> ApiKey:
    key = require_api_key(request)
    if not key.may(BOUNCES_SCOPE):
        raise Problem(
            403,
            "scope-required",
            "This API key may not report bounces",
            f"bounces reverse service: use a key created with --scope {BOUNCES_SCOPE}",
        )
    return key


async def report_reply(request: web.Request) -> web.Response:
    """A reply the court's mail server received, raw; 404 when it answers no e-mail of ours."""
    key = _mail_processor(request)
    raw = await bounded_body(request, MAX_REPLY_BYTES, "RFC 5322")
    if not raw.strip():
        raise validation_problem([{"field": "body", "message": "the raw RFC 5322 message"}])
    outcome = await record_email_reply(
        ctx_of(request), raw, courts=key.courts, actor=f"api_key:{key.id}"
    )
    if outcome is None:
        raise not_found("e-mail answered by that In-Reply-To or References")
    return json_response(
        {
            "dispatch_id": outcome.dispatch_id,
            "attempt_id": outcome.attempt_id,
            "automatic": outcome.automatic,
            "from_recipient": outcome.from_recipient,
        }
    )


async def report_bounce(request: web.Request) -> web.Response:
    key = _mail_processor(request)
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
