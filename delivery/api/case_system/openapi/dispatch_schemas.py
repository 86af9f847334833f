"""The schemas of what the API and the webhooks say about a dispatch: its summary
(delivery/representations.py ``dispatch_summary``), its attempts, events and notice, and the
whole dispatch a ``GET`` reads.

Every closed list is the ``enum`` of its Python constant (the vocabulary's enums, the action
and notice lists of the services), never typed again here, so a new member is documented by
being added.
"""

from __future__ import annotations

from typing import Any

from delivery.api.case_system.dispatch_request import CONSENT_BASES
from delivery.services.clerk_actions import ALL_ACTIONS
from delivery.vocabulary import (
    AttemptState,
    Channel,
    ContactKind,
    ContactSource,
    DispatchState,
    DocumentKind,
    EventType,
    NoticeState,
    RecipientRole,
)
from escalation.periods import RUNNING_PERIODS

NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
TIME = {"type": "string", "format": "date-time"}
ULID = {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{26}$"}
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}


def values(members: Any) -> list[str]:
    """An enum's (or a constant tuple's) values, in their declared order."""
    return [str(m) for m in members]


def closed(properties: dict[str, Any], *, required: list[str] | None = None) -> dict[str, Any]:
    """An object with exactly these properties, all present unless ``required`` names fewer:
    what Songda sends is checked against it (tests/integration/api/test_webhook_schemas.py),
    so a field added without its schema fails a test."""
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
        "additionalProperties": False,
    }


PERIOD = closed(
    {
        "name": {"enum": sorted({rule[0] for rule in RUNNING_PERIODS.values()})},
        "document_id": ULID,
        "basis": {"type": "string", "description": "the rule the period runs by, e.g. CPL-171"},
        "days": {"type": ["integer", "null"]},
        "ends_on": {"type": "string", "format": "date"},
        "provisional": {
            "type": "boolean",
            "description": "true while the holiday data of a year the period reaches is not "
            "loaded: weekends only are counted (CPL-85)",
        },
    }
)

# dispatch_summary: what every webhook payload and list entry says about a dispatch.
SUMMARY_PROPERTIES: dict[str, Any] = {
    "dispatch_id": ULID,
    "state": {"enum": values(DispatchState)},
    "state_reason": {
        **NULLABLE_STRING,
        "description": "why the dispatch is in its state (e.g. requires_ordinary_procedure)",
    },
    "court": {"type": "string"},
    "case_number": {"type": "string"},
    "reference": {"type": "string", "description": "the caller's reference"},
    "policy": {"type": "string"},
    "created_at": TIME,
    "served_at": {**NULLABLE_TIME, "description": "the instant of the completing event"},
    "service_date": {
        "type": ["string", "null"],
        "format": "date",
        "description": "the legal date of service in the court's time zone",
    },
    "served_by_channel": {"oneOf": [{"enum": values(Channel)}, {"type": "null"}]},
    "legal_basis": {**NULLABLE_STRING, "description": "the rule that completed service"},
    "periods": {
        "type": ["array", "null"],
        "description": "what runs from service (CPL-85)",
        "items": PERIOD,
    },
}

ATTEMPT = closed(
    {
        "id": ULID,
        "step": {"type": "integer", "description": "the policy step it belongs to"},
        "channel": {"enum": values(Channel)},
        "address": {**NULLABLE_STRING, "description": "masked"},
        "source": {"enum": values(ContactSource)},
        "state": {"enum": values(AttemptState)},
        "reason": NULLABLE_STRING,
        "provider_ref": {
            **NULLABLE_STRING,
            "description": "Message-ID, SMS id, tracking number, field task or notice id",
        },
        "tries": {"type": "integer"},
        "created_at": TIME,
        "sent_at": NULLABLE_TIME,
    }
)

EVENT = closed(
    {
        "id": ULID,
        "seq": {"type": "integer"},
        "type": {"enum": values(EventType)},
        "attempt_id": {"oneOf": [ULID, {"type": "null"}]},
        "occurred_at": TIME,
        "recorded_at": TIME,
        "source": {"type": "string"},
        "actor": NULLABLE_STRING,
        "data": {"type": "object"},
        "prev_hash": SHA256,
        "hash": SHA256,
    }
)

NOTICE = closed(
    {
        "id": ULID,
        "state": {"enum": values(NoticeState)},
        "title": {"type": "string"},
        "body": {"type": "string"},
        "text_sha256": {
            **SHA256,
            "description": "SHA-256 (hex) of the title and body as approve_notice names them",
        },
        "first_published_at": NULLABLE_TIME,
        "last_published_at": NULLABLE_TIME,
        "deemed_served_at": {
            **NULLABLE_TIME,
            "description": "when the notice period ends and service is deemed (CPL-95)",
        },
    }
)

DISPATCH_DETAIL: dict[str, Any] = {
    "id": ULID,
    **SUMMARY_PROPERTIES,
    "locale": {"type": "string"},
    "hearing_at": NULLABLE_TIME,
    "service_deadline_at": NULLABLE_TIME,
    "next_action_at": NULLABLE_TIME,
    "step": {"type": ["integer", "null"]},
    "recipient": closed(
        {
            "name": {"type": "string"},
            "role": {
                "type": "string",
                "description": "one of " + ", ".join(values(RecipientRole)) + " (a dispatch "
                "created before the list was closed keeps the role it was given)",
            },
            "id_number_last4": {"type": "string"},
            "e_service_consent": closed(
                {
                    "given": {"type": "boolean"},
                    "basis": {"enum": [*CONSENT_BASES, None]},
                }
            ),
            "contacts": {
                "type": "array",
                "items": closed(
                    {
                        "id": ULID,
                        "kind": {"enum": values(ContactKind)},
                        "value": {"type": "string", "description": "masked"},
                        "source": {"enum": values(ContactSource)},
                        "confirmation": {
                            "oneOf": [
                                {"type": "null"},
                                closed({"id": ULID, "confirmed_at": TIME, "form_sha256": SHA256}),
                            ],
                            "description": "the address confirmation form the recipient "
                            "signed that named this address (CPL-INT-136/137), in this case or "
                            "a case of its group; null for the case system's own addresses",
                        },
                    }
                ),
            },
        }
    ),
    "documents": {
        "type": "array",
        "items": closed(
            {
                "id": ULID,
                "title": {"type": "string"},
                "kind": {"enum": values(DocumentKind)},
                "sha256": SHA256,
                "size": {"type": "integer"},
            }
        ),
    },
    "attempts": {"type": "array", "items": {"$ref": "#/components/schemas/Attempt"}},
    "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
    "chain_head": {
        **SHA256,
        "description": "the hash of the latest event; the certificate pins an earlier one "
        "(verification_url carries it)",
    },
    "certificate_id": {
        "oneOf": [ULID, {"type": "null"}],
        "description": "the standing certificate of service; null until it is issued",
    },
    "verification_url": {
        "type": ["string", "null"],
        "format": "uri",
        "description": "the public page that verifies the standing certificate (its QR "
        "code's target); null until the certificate is issued",
    },
    "allowed_actions": {"type": "array", "items": {"enum": list(ALL_ACTIONS)}},
    "owner_id": {
        "oneOf": [ULID, {"type": "null"}],
        "description": "the owning clerk's staff account id",
    },
    "notice": {
        "description": "the dispatch's public notice, once the ladder reached it (while "
        "notice_pending the one approve_notice names by text_sha256), kept after service; "
        "null when there was none",
        "oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Notice"}],
    },
}

DISPATCH_SCHEMAS: dict[str, Any] = {
    "DispatchSummary": closed({"id": ULID, **SUMMARY_PROPERTIES}),
    "Attempt": ATTEMPT,
    "Event": EVENT,
    "Notice": NOTICE,
    "Dispatch": closed(DISPATCH_DETAIL),
    "DispatchCreated": closed(
        {
            "id": ULID,
            **SUMMARY_PROPERTIES,
            "attempts": {"type": "array", "items": {"$ref": "#/components/schemas/Attempt"}},
        }
    ),
    "DispatchPage": closed(
        {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/DispatchSummary"}},
            "next_cursor": NULLABLE_STRING,
        }
    ),
}
