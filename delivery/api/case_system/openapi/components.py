"""The document's components: security schemes, the problem response and the schemas."""

from __future__ import annotations

from typing import Any

from delivery.api.case_system.dispatch_request import CONSENT_BASES
from delivery.api.case_system.openapi.case_group_paths import CASE_GROUP_SCHEMAS
from delivery.api.case_system.openapi.dispatch_schemas import DISPATCH_SCHEMAS, values
from delivery.api.case_system.openapi.webhook_schemas import WEBHOOK_SCHEMAS
from delivery.domain import LOCALES
from delivery.services.reports import GROUPINGS
from delivery.vocabulary import (
    ContactSource,
    DocumentKind,
    RecipientRole,
    WebhookDeliveryState,
    WebhookEventType,
)
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
        **DISPATCH_SCHEMAS,
        **WEBHOOK_SCHEMAS,
        **CASE_GROUP_SCHEMAS,
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
                "kind": {"enum": values(DocumentKind)},
            },
        },
        "Contact": {
            "type": "object",
            "properties": {"source": {"enum": values(ContactSource)}},
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
                        "role": {"enum": values(RecipientRole)},
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
                "event_types": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"enum": values(WebhookEventType)},
                    "description": "the types to receive; all of them when absent",
                },
            },
        },
        "WebhookEndpoint": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "url": {"type": "string"},
                "event_types": {
                    "type": ["array", "null"],
                    "items": {"enum": values(WebhookEventType)},
                },
                "enabled": {"type": "boolean"},
                "disabled_reason": {"type": ["string", "null"]},
                "created_at": {"type": "string", "format": "date-time"},
                "secret": {
                    "type": "string",
                    "description": "whsec_…, the Standard Webhooks signing secret; returned "
                    "once, on creation",
                },
            },
        },
        "WebhookEndpoints": {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/WebhookEndpoint"},
                }
            },
        },
        "WebhookDeliveries": {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/WebhookDelivery"},
                }
            },
        },
        "WebhookDelivery": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "endpoint_id": {"type": "string"},
                "message_id": {"type": "string", "description": "the webhook-id header"},
                "type": {"enum": values(WebhookEventType)},
                "dispatch_id": {"type": "string"},
                "state": {"enum": values(WebhookDeliveryState)},
                "tries": {"type": "integer"},
                "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
                "created_at": {"type": "string", "format": "date-time"},
                "delivered_at": {"type": ["string", "null"], "format": "date-time"},
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
                        "served_after_confirmation",
                        "served_by_reply",
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
