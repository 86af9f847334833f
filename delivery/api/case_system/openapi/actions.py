"""The request body of ``POST /api/v1/dispatches/{id}/actions``: one schema per clerk action,
told apart by ``action``, each with its details and their closed lists taken from the code
that checks them (the vocabulary, the notice rules, the consent bases)."""

from __future__ import annotations

from typing import Any

from channels.public_notice.publications import PLACES, REASONS
from delivery.api.case_system.dispatch_request import CONSENT_BASES
from delivery.api.case_system.openapi.dispatch_schemas import SHA256, ULID, values
from delivery.services.clerk_action_handlers import REBUTTALS
from delivery.services.clerk_actions import ALL_ACTIONS
from delivery.services.clerk_requests import MAX_NOTE
from delivery.services.contact_repair import KINDS as REPAIR_KINDS
from delivery.services.contact_repair import MAX_EVIDENCE_TEXT
from delivery.vocabulary import Channel, ContactKind, ContactSource, EventType

TEXT = {"type": "string"}
EVIDENCE_TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_EVIDENCE_TEXT}
DATE = {"type": "string", "format": "date"}
# What each action takes besides ``action`` and ``note``: (properties, required).
ACTION_DETAILS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "escalate": ({}, ()),
    "skip_step": ({"step": {"type": "integer", "minimum": 0}}, ("step",)),
    "retry_channel": ({"channel": {"enum": values(Channel)}}, ("channel",)),
    "record_outcome": (
        {
            "attempt_id": ULID,
            "outcome": {"enum": [EventType.PROOF_SIGNED.value]},
            "written_date": {
                **DATE,
                "description": "the date the recipient wrote on the proof: not in the future, "
                "not before the dispatch was created; it dates service (CPL-87)",
            },
        },
        ("attempt_id", "outcome", "written_date"),
    ),
    "add_contact": (
        {
            "kind": {"enum": values(ContactKind)},
            "value": TEXT,
            "source": {"enum": values(ContactSource)},
            "postcode": TEXT,
        },
        ("kind", "value", "source"),
    ),
    "repair_contact": (
        {
            "kind": {"enum": [k.value for k in REPAIR_KINDS]},
            "value": TEXT,
            "supplied_by": {**EVIDENCE_TEXT, "description": "the carrier or platform"},
            "query_reference": {**EVIDENCE_TEXT, "description": "their reference for the query"},
            "active_on": {
                **DATE,
                "description": "the last activity they report: within the last 3 months, "
                "else refused (ICP-16)",
            },
            "rows": {
                **TEXT,
                "description": "instead of kind, value and active_on: the carrier's results as "
                "CSV (columns kind, value, date — the last activity; at most 50 rows; in "
                "multipart a file part); one wrong row refuses the whole file, named "
                "rows[N].column",
            },
        },
        ("supplied_by", "query_reference"),
    ),
    "record_consent": ({"basis": {"enum": list(CONSENT_BASES)}}, ("basis",)),
    "change_policy": ({"policy": TEXT}, ("policy",)),
    "cancel": ({}, ()),
    "assign_field_server": ({"task_id": ULID, "field_server": TEXT}, ("task_id", "field_server")),
    "record_rebuttal": ({"reason": {"enum": sorted(REBUTTALS)}}, ("reason",)),
    "edit_notice": ({"title": TEXT, "body": TEXT}, ()),
    "approve_notice": (
        {
            "reason": {"enum": list(REASONS)},
            "text_sha256": {
                **SHA256,
                "description": "the notice's text_sha256 as read from the dispatch: 409 when "
                "the draft changed since",
            },
        },
        ("reason", "text_sha256"),
    ),
    "record_publication": (
        {
            "place": {"enum": list(PLACES)},
            "published_at": {"type": "string", "format": "date-time"},
            "detail": TEXT,
            "media_id": {
                **ULID,
                "description": "required for residence: the id from POST …/media",
            },
        },
        ("place", "published_at"),
    ),
    "reassign_owner": ({"owner_id": ULID}, ("owner_id",)),
    # The signed link to the address confirmation form goes to every e-mail address and
    # mobile number of the dispatch (CPL-INT-136); a new request re-issues it.
    "request_address_confirmation": ({}, ()),
}

NOTE = {"type": "string", "minLength": 1, "maxLength": MAX_NOTE, "description": "why"}


def _action(name: str) -> dict[str, Any]:
    properties, required = ACTION_DETAILS[name]
    return {
        "title": name,
        "type": "object",
        "required": ["action", "note", *required],
        "properties": {"action": {"const": name}, "note": NOTE, **properties},
    }


def action_body() -> dict[str, Any]:
    """JSON, one of the actions; or multipart/form-data when the action brings a file (in the
    part ``scan``) — record_outcome's scan of the signed proof (CPL-87, docs/decisions/0022),
    repair_contact's reply document from the carrier or platform (ICP-16, required)."""
    scan = {"scan": {"type": "string", "format": "binary"}}
    with_file = [
        {**action, "properties": {**action["properties"], **scan}}
        for action in (_action("record_outcome"), _action("repair_contact"))
    ]
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [_action(name) for name in ALL_ACTIONS],
                    "discriminator": {"propertyName": "action"},
                }
            },
            "multipart/form-data": {
                "schema": {
                    "oneOf": with_file,
                    "discriminator": {"propertyName": "action"},
                }
            },
        },
    }
