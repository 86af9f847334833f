"""The document's ``webhooks`` section: one payload schema per type of the catalogue
(``WebhookEventType``), each the shared envelope around the dispatch's summary and what that
type adds.

The payloads are built where the events happen (delivery/storage/unit_of_work.py wraps them;
delivery/services/progress.py, reversal.py and channels/public_notice/publications.py add to
them); tests/integration/api/test_webhook_schemas.py validates every body Songda sends against
these schemas, and ``unevaluatedProperties: false`` makes a field added there without its schema
here fail that test.
"""

from __future__ import annotations

from typing import Any

from channels.public_notice.publications import PLACES
from delivery.api.case_system.openapi.dispatch_schemas import (
    NULLABLE_TIME,
    PERIOD,
    SUMMARY_PROPERTIES,
    TIME,
    ULID,
    values,
)
from delivery.vocabulary import Channel, WebhookEventType

_W = WebhookEventType

TIMES = (
    "The `webhook-timestamp` header is wall-clock time (Unix seconds) at the moment of each "
    "try, as the Standard Webhooks spec wants: check it against your own clock to refuse "
    "replays (the libraries allow 5 minutes). The body's `timestamp` and every time inside it "
    "are Songda's clock, the legal record's: in the sandbox that is the sandbox clock, which "
    "may be days ahead of the header."
)

# What each type adds to the dispatch's summary: (properties, required), with a description.
EVENT_DATA: dict[WebhookEventType, tuple[str, dict[str, Any]]] = {
    _W.DISPATCH_CREATED: ("A dispatch was created (by the API, the form or a CSV batch).", {}),
    _W.DISPATCH_ESCALATED: (
        "A later step of the policy's ladder started (the first step is not an escalation).",
        {"step": {"type": "integer", "minimum": 0}, "step_name": {"type": "string"}},
    ),
    _W.DISPATCH_AT_RISK: (
        "A flag, not a state: service cannot complete before the hearing's deadline on the "
        "current step.",
        {"service_deadline_at": TIME, "step_ends_at": TIME},
    ),
    _W.DISPATCH_NOTICE_AWAITING_APPROVAL: (
        "The ladder reached public notice (CPL-95): the dispatch is notice_pending until a "
        "supervisor approves the notice and its period ends.",
        {},
    ),
    _W.DISPATCH_NOTICE_PUBLISHED: (
        "The notice was published (again); service is deemed when its period ends.",
        {
            "notice_id": ULID,
            "place": {"enum": list(PLACES)},
            "published_at": TIME,
            "last_published_at": TIME,
            "deemed_served_at": NULLABLE_TIME,
        },
    ),
    _W.DISPATCH_SERVED: (
        "Service completed: when (served_at, by the provider's time), the legal date "
        "(service_date, the court's time zone), the rule (legal_basis) and the periods that "
        "run from it. The certificate follows: the dispatch's verification_url once issued.",
        {
            "served_at": TIME,
            "service_date": {"type": "string", "format": "date"},
            "served_by_channel": {"enum": values(Channel)},
            "legal_basis": {"type": "string"},
            "periods": {"type": "array", "items": PERIOD},
        },
    ),
    _W.DISPATCH_UNSERVED: (
        "Service was reversed (a recorded rebuttal, or a bounce proving non-arrival); the "
        "ladder resumes and the certificate is superseded.",
        {"reason": {"type": "string"}},
    ),
    _W.DISPATCH_FAILED: ("The ladder ran out; state_reason says why.", {}),
    _W.DISPATCH_CANCELLED: ("The dispatch was cancelled.", {}),
    _W.ATTEMPT_UPDATED: (
        "An attempt changed state (every change but the worker's own sending claim).",
        {"attempt": {"$ref": "#/components/schemas/Attempt"}},
    ),
}
# The served payload tightens the summary's nullable fields rather than adding any.
TIGHTENED = {_W.DISPATCH_SERVED}


def schema_name(event_type: WebhookEventType) -> str:
    """``dispatch.notice_published`` → ``DispatchNoticePublishedWebhook``."""
    return "".join(part.title() for part in event_type.name.split("_")) + "Webhook"


def _payload(event_type: WebhookEventType) -> dict[str, Any]:
    description, added = EVENT_DATA[event_type]
    required = [] if event_type in TIGHTENED else list(added)
    return {
        "type": "object",
        "description": description,
        "required": ["type", "timestamp", "data"],
        "additionalProperties": False,
        "properties": {
            "type": {"const": event_type.value},
            "timestamp": {**TIME, "description": "when it happened, on Songda's clock"},
            "data": {
                "allOf": [{"$ref": "#/components/schemas/WebhookDispatch"}],
                "type": "object",
                "required": required,
                "properties": added,
                "unevaluatedProperties": False,
            },
        },
    }


def _headers() -> list[dict[str, Any]]:
    described = {
        "webhook-id": "the message id: the same on every retry (de-duplicate on it)",
        "webhook-timestamp": "Unix seconds, wall-clock, at this try",
        "webhook-signature": "v1,<base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`> keyed "
        "with the base64-decoded `whsec_` secret",
    }
    return [
        {
            "in": "header",
            "name": name,
            "required": True,
            "schema": {"type": "string"},
            "description": text,
        }
        for name, text in described.items()
    ]


WEBHOOK_SCHEMAS: dict[str, Any] = {
    "WebhookDispatch": {
        "type": "object",
        "description": "what every webhook's data says about its dispatch",
        "required": list(SUMMARY_PROPERTIES),
        "properties": SUMMARY_PROPERTIES,
    },
    **{schema_name(t): _payload(t) for t in WebhookEventType},
}

WEBHOOKS: dict[str, Any] = {
    event_type.value: {
        "post": {
            "summary": EVENT_DATA[event_type][0],
            "description": TIMES,
            "parameters": _headers(),
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{schema_name(event_type)}"}
                    }
                },
            },
            "responses": {
                "2XX": {"description": "received; any other answer is retried (3 days)"},
                "410": {"description": "the endpoint is disabled"},
            },
        }
    }
    for event_type in WebhookEventType
}
