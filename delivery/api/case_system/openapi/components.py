"""The document's components: security schemes, the problem response and the schemas."""

from __future__ import annotations

from typing import Any

from delivery.api.case_system.dispatch_request import CONSENT_BASES
from delivery.api.case_system.webhooks import EVENT_TYPES
from delivery.domain import DOCUMENT_KINDS, LOCALES, ContactSource, DispatchState
from delivery.services.reports import GROUPINGS
from delivery.vocabulary import NoticeState
from tracking.webhook_targets import URL_RULES
from tracking.webhooks import CONNECTION_FAILED, REFUSED, TIMED_OUT

COMPONENTS: dict[str, Any] = {
    "securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"},
        "staff_session": {
            "type": "apiKey",
            "in": "cookie",
            "name": "songda_session",
            "description": "a staff login session (POST /login); unsafe methods also need "
            "the session's CSRF token in the X-CSRF-Token header",
        },
    },
    "responses": {
        "Problem": {
            "description": "An error (RFC 9457)",
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
    },
    "schemas": {
        "Problem": {
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                            "rule": {
                                "type": "string",
                                "description": "for a refused webhook URL, the rule: "
                                + ", ".join(URL_RULES),
                            },
                        },
                    },
                },
            },
        },
        "Document": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "sha256": {"type": "string"},
                "size": {"type": "integer"},
                "title": {"type": "string"},
                "kind": {"enum": sorted(DOCUMENT_KINDS)},
            },
        },
        "Contact": {
            "type": "object",
            "properties": {"source": {"enum": [source.value for source in ContactSource]}},
            "required": ["source"],
        },
        "DispatchRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["court", "case_number", "reference", "documents", "recipient"],
            "properties": {
                "court": {"type": "string"},
                "case_number": {"type": "string", "examples": ["(2026)浙0106民初1234号"]},
                "reference": {
                    "type": "string",
                    "description": "the caller's unique id; idempotency key",
                },
                "policy": {"type": "string", "default": "cn-civil"},
                "clerk": {
                    "type": "string",
                    "description": "username of the court's clerk who owns the case; by "
                    "default the clerk owning the case number already, else round-robin",
                },
                "locale": {"enum": list(LOCALES)},
                "documents": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "hearing_at": {"type": "string", "format": "date-time"},
                "recipient": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "role", "id_number", "e_service_consent"],
                    "properties": {
                        "name": {"type": "string"},
                        "role": {"type": "string"},
                        "domicile_in_china": {
                            "type": "boolean",
                            "default": True,
                            "description": "false: periods run as for parties abroad",
                        },
                        "id_number": {
                            "type": "string",
                            "description": "stored as keyed HMAC + last 4",
                        },
                        "e_service_consent": {
                            "type": "object",
                            "properties": {
                                "given": {"type": "boolean"},
                                "basis": {"enum": list(CONSENT_BASES)},
                            },
                        },
                        "emails": {
                            "type": "array",
                            "items": {
                                "allOf": [
                                    {"$ref": "#/components/schemas/Contact"},
                                    {
                                        "properties": {
                                            "address": {"type": "string", "format": "email"}
                                        }
                                    },
                                ]
                            },
                        },
                        "phones": {
                            "type": "array",
                            "items": {
                                "allOf": [
                                    {"$ref": "#/components/schemas/Contact"},
                                    {"properties": {"number": {"type": "string"}}},
                                ]
                            },
                        },
                        "postal_addresses": {
                            "type": "array",
                            "items": {
                                "allOf": [
                                    {"$ref": "#/components/schemas/Contact"},
                                    {
                                        "properties": {
                                            "lines": {"type": "string"},
                                            "postcode": {"type": "string"},
                                        }
                                    },
                                ]
                            },
                        },
                    },
                },
            },
        },
        "Dispatch": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "state": {"enum": [state.value for state in DispatchState]},
                "served_at": {"type": ["string", "null"], "format": "date-time"},
                "service_date": {"type": ["string", "null"], "format": "date"},
                "legal_basis": {"type": ["string", "null"]},
                "periods": {
                    "type": ["array", "null"],
                    "description": "what runs from service (CPL-85): name, document_id, "
                    "basis, days, ends_on, provisional",
                    "items": {"type": "object"},
                },
                "attempts": {"type": "array", "items": {"type": "object"}},
                "events": {"type": "array", "items": {"type": "object"}},
                "chain_head": {"type": "string"},
                "allowed_actions": {"type": "array", "items": {"type": "string"}},
                "owner_id": {
                    "type": ["string", "null"],
                    "description": "the owning clerk's staff account id",
                },
                "notice": {
                    "description": "while notice_pending: the public notice as it stands "
                    "(approve_notice must name its text_sha256); otherwise null",
                    "oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Notice"}],
                },
            },
        },
        "Notice": {
            "type": "object",
            "required": ["id", "state", "title", "body", "text_sha256"],
            "properties": {
                "id": {"type": "string"},
                "state": {"enum": list(NoticeState)},
                "title": {"type": "string"},
                "body": {"type": "string"},
                "text_sha256": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{64}$",
                    "description": "SHA-256 (hex) of the UTF-8 body",
                },
            },
        },
        "Media": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "sha256": {"type": "string"},
                "media_type": {"type": "string"},
                "size": {"type": "integer"},
            },
        },
        "DispatchCreated": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "state": {"enum": [state.value for state in DispatchState]},
                "attempts": {"type": "array", "items": {"type": "object"}},
            },
        },
        "DispatchPage": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": {"type": "object"}},
                "next_cursor": {"type": ["string", "null"]},
            },
        },
        "WebhookEndpointRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["url"],
            "properties": {
                "url": {
                    "type": "string",
                    "maxLength": 2000,
                    "description": "https (http only where the operator allows it), no user "
                    "or password, not localhost, not an address (in any notation) or a name "
                    "resolving to loopback, private, link-local, multicast or reserved "
                    "ranges unless the operator's allow-list admits it; checked again at "
                    "every delivery, redirects are not followed",
                },
                "event_types": {"type": "array", "items": {"enum": list(EVENT_TYPES)}},
            },
        },
        "WebhookEndpoint": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "url": {"type": "string"},
                "event_types": {"type": ["array", "null"]},
                "secret": {"type": "string", "description": "returned once, on creation"},
            },
        },
        "WebhookDelivery": {
            "type": "object",
            "properties": {
                "last_status": {"type": ["integer", "null"]},
                "last_error": {
                    "type": ["string", "null"],
                    "description": "why the last try failed: `HTTP <status>` (a 3xx "
                    f"included), `{REFUSED}` (the address is not allowed), `{TIMED_OUT}` "
                    f"or `{CONNECTION_FAILED}`",
                },
            },
        },
        "ReportFigures": {
            "type": "object",
            "properties": {
                **{
                    name: {"type": "integer"}
                    for name in (
                        "served",
                        "failed",
                        "cancelled",
                        "served_electronically",
                        "served_first_try",
                    )
                },
                **{
                    name: {"type": ["number", "null"], "minimum": 0, "maximum": 1}
                    for name in ("e_service_usage_rate", "success_rate", "first_try_rate")
                },
                "time_to_service": {
                    "type": "object",
                    "properties": {
                        "median_hours": {"type": ["number", "null"]},
                        "p90_hours": {"type": ["number", "null"]},
                    },
                },
            },
        },
        "ServiceReport": {
            "type": "object",
            "properties": {
                "from": {"type": "string", "format": "date"},
                "to": {"type": "string", "format": "date"},
                "group_by": {"enum": list(GROUPINGS)},
                "court": {"type": ["string", "null"]},
                "time_zone": {"type": "string"},
                "definitions": {"type": "object", "additionalProperties": {"type": "string"}},
                "totals": {"$ref": "#/components/schemas/ReportFigures"},
                "groups": {
                    "type": "array",
                    "items": {
                        "allOf": [
                            {"$ref": "#/components/schemas/ReportFigures"},
                            {
                                "type": "object",
                                "properties": {
                                    "key": {"type": "string"},
                                    "label": {"type": "string"},
                                },
                            },
                        ]
                    },
                },
            },
        },
    },
}
