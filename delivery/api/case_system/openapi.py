"""The OpenAPI 3.1 document of the case-system API; a test keeps it in step with the routes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from delivery.api.case_system.dispatch_request import CONSENT_BASES
from delivery.api.case_system.dispatches import LIST_PARAMETERS
from delivery.api.case_system.webhooks import EVENT_TYPES
from delivery.api.http.handlers import json_response
from delivery.domain import DOCUMENT_KINDS, LOCALES, ContactSource, DispatchState
from delivery.services.reports import DEFINITIONS, GROUPINGS, TABLE_COLUMNS
from delivery.vocabulary import EventType, NoticeState
from tracking.webhook_targets import URL_RULES
from tracking.webhooks import CONNECTION_FAILED, REFUSED, TIMED_OUT

PROBLEM = {"$ref": "#/components/responses/Problem"}
# What any request body can get (delivery/api/http/bodies.py): malformed or nested too deeply (400),
# too large (413), not of a type the operation reads (415).
BODY_PROBLEMS = {"400": PROBLEM, "413": PROBLEM, "415": PROBLEM}
PDF_RESPONSE = {
    "description": "PDF",
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
}


def _op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    # 503 + Retry-After: the database or the queue is unreachable (delivery/api/http/outages.py).
    common = {"401": PROBLEM, "403": PROBLEM, "422": PROBLEM, "503": PROBLEM}
    if "requestBody" in extra:
        common |= BODY_PROBLEMS
    return {"summary": summary, "responses": {**responses, **common}, **extra}


def _key_op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A case-system operation: API keys only (a staff session gets 403 "API key required")."""
    return _op(summary, responses, security=[{"bearer": []}], **extra)


def _ok(description: str, schema: str | None = None) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _strings_body(required: list[str], optional: list[str]) -> dict[str, Any]:
    """A JSON request body of string fields."""
    return _json_body(
        {
            "type": "object",
            "required": required,
            "properties": {name: {"type": "string"} for name in required + optional},
        }
    )


def _action_body() -> dict[str, Any]:
    """A clerk action: JSON, or multipart/form-data when it brings a file — record_outcome's
    scan of the signed proof (CPL-87, docs/decisions/0022)."""
    body = _strings_body(["action", "note"], [])
    body["content"]["multipart/form-data"] = {
        "schema": {
            "type": "object",
            "required": ["action", "note"],
            "properties": {
                "action": {"type": "string", "enum": ["record_outcome"]},
                "note": {"type": "string"},
                "attempt_id": {"type": "string"},
                "outcome": {"type": "string", "enum": [EventType.PROOF_SIGNED]},
                "written_date": {"type": "string", "format": "date"},
                "scan": {"type": "string", "format": "binary"},
            },
        },
    }
    return body


ID_PARAM = {
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{26}$"},
}

REPORT_PARAMETERS = [
    {"in": "query", "name": name, "required": True, "schema": {"type": "string", "format": "date"}}
    for name in ("from", "to")
] + [
    {"in": "query", "name": "group_by", "schema": {"enum": list(GROUPINGS), "default": "channel"}},
    {"in": "query", "name": "court", "schema": {"type": "string"}},
]
REPORT_DESCRIPTION = (
    "Over the caller's courts (API key, or a clerk's or supervisor's session), or the one named "
    "by `court`; dates inclusive, in the court's time zone. Rates are null when their "
    "denominator is 0. Definitions: "
    + "; ".join(f"**{name}**: {text}" for name, text in DEFINITIONS["en"].items())
    + "."
)

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
            f"event types: {', '.join(EVENT_TYPES)}."
        ),
    },
    "components": {
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
    },
    "security": [{"bearer": []}, {"staff_session": []}],
    "paths": {
        "/api/v1/documents": {
            "post": _key_op(
                "Upload a PDF document (multipart: file, title, kind)",
                {"201": _ok("Stored", "Document"), "413": PROBLEM, "415": PROBLEM},
            ),
        },
        "/api/v1/dispatches": {
            "post": _key_op(
                "Create a dispatch (idempotent on reference)",
                {
                    "201": _ok("Created: the summary and the attempts started", "DispatchCreated"),
                    "200": _ok("Same request again: the same dispatch", "DispatchCreated"),
                    "403": PROBLEM,
                    "409": PROBLEM,
                },
                parameters=[
                    {
                        "in": "header",
                        "name": "Idempotency-Key",
                        "schema": {"type": "string"},
                        "description": "must equal reference when sent",
                    }
                ],
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/DispatchRequest"}
                        }
                    },
                },
            ),
            "get": _op(
                "List dispatches, newest first",
                {"200": _ok("A page", "DispatchPage")},
                parameters=[
                    {"in": "query", "name": n, "schema": {"type": "string"}}
                    for n in LIST_PARAMETERS
                ],
            ),
        },
        "/api/v1/dispatches/{dispatch_id}": {
            "get": _op(
                "A dispatch with attempts and event timeline",
                {"200": _ok("The dispatch", "Dispatch"), "404": PROBLEM},
                parameters=[{"name": "dispatch_id", **ID_PARAM}],
            ),
        },
        "/api/v1/dispatches/{dispatch_id}/cancel": {
            "post": _op(
                "Cancel an open dispatch",
                {"200": _ok("Cancelled", "Dispatch"), "404": PROBLEM, "409": PROBLEM},
                parameters=[{"name": "dispatch_id", **ID_PARAM}],
                requestBody=_json_body(
                    {"type": "object", "properties": {"reason": {"type": "string"}}},
                    required=False,
                ),
            ),
        },
        "/api/v1/dispatches/{dispatch_id}/actions": {
            "post": _op(
                "A clerk's action: escalate, skip_step (step), retry_channel (channel), "
                "record_outcome (attempt_id, outcome=proof_signed, written_date YYYY-MM-DD — "
                "the date the recipient wrote on the proof: not in the future, not before the "
                "dispatch was created, it dates service (CPL-87) — and the file scan: a PDF, JPEG "
                "or PNG of the signed paper, at most SONGDA_MAX_UPLOAD_BYTES, sent as "
                "multipart/form-data; a refused field is 422 naming it), add_contact (kind, value, "
                "source, postcode), record_consent (basis), record_rebuttal (reason), "
                "change_policy (policy), cancel, assign_field_server (task_id, field_server), "
                "reassign_owner (owner_id: a clerk of the court; any state); "
                "while notice_pending: edit_notice (body, "
                "title), approve_notice (reason=whereabouts_unknown|other_methods_failed, "
                "text_sha256 = the notice's text_sha256 as read from the dispatch — 409 when the "
                "draft changed since; a supervisor's session only, else 403), "
                "record_publication (place=court_notice_board|residence|newspaper|court_website, "
                "published_at RFC 3339, detail, media_id — required for residence: the id from "
                "POST …/media) — each with a required note; the dispatch's allowed_actions "
                "lists what its state allows",
                {
                    "200": _ok("Done: the dispatch", "Dispatch"),
                    "404": PROBLEM,
                    "409": PROBLEM,
                    "422": PROBLEM,
                },
                parameters=[{"name": "dispatch_id", **ID_PARAM}],
                requestBody=_action_body(),
            ),
        },
        "/api/v1/dispatches/{dispatch_id}/media": {
            "post": _op(
                "Upload the photo or video of a public notice's posting (CPL-INT-138: a posting "
                "at the residence is photographed or filmed): one file, a photo (JPEG, PNG, WebP) "
                "or a video (MP4, QuickTime, WebM) checked by its first bytes, at most "
                "SONGDA_MAX_MEDIA_BYTES; only while the dispatch's notice is published. Stored "
                "by SHA-256 (purpose notice_posting), recorded as `media_uploaded`; name its id "
                "as media_id in record_publication",
                {
                    "201": _ok("Stored", "Media"),
                    "404": PROBLEM,
                    "409": PROBLEM,
                    "413": PROBLEM,
                    "415": PROBLEM,
                },
                parameters=[{"name": "dispatch_id", **ID_PARAM}],
                requestBody={
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        }
                    },
                },
            ),
        },
        "/api/v1/dispatches/{dispatch_id}/evidence.zip": {
            "get": _op(
                "The signed evidence bundle (deterministic zip): events.json (the whole chain, "
                "RFC 8785), certificate.pdf and certificate.json (the current certificate, when "
                "served), certificates/<id>.pdf (superseded ones), manifest.json (every file "
                "with SHA-256 and size, every document and media file of the dispatch), "
                "manifest.sig (Ed25519 by the court key over manifest.json's bytes; public keys "
                "at /.well-known/songda-keys.json); with include=documents also "
                "documents/<sha256>.pdf. Check it offline with `songda verify`",
                {
                    "200": {
                        "description": "zip",
                        "content": {
                            "application/zip": {"schema": {"type": "string", "format": "binary"}}
                        },
                    },
                    "404": PROBLEM,
                },
                parameters=[
                    {"name": "dispatch_id", **ID_PARAM},
                    {
                        "in": "query",
                        "name": "include",
                        "schema": {"type": "string", "enum": ["documents"]},
                    },
                ],
            ),
        },
        "/api/v1/dispatches/{dispatch_id}/attempts/{attempt_id}/reissue-link": {
            "post": _op(
                "Revoke an attempt's recipient link and send a new one (unlocks a locked link)",
                {"202": _ok("A new attempt carries the new link"), "404": PROBLEM, "409": PROBLEM},
                parameters=[
                    {"name": "dispatch_id", **ID_PARAM},
                    {"name": "attempt_id", **ID_PARAM},
                ],
            ),
        },
        "/api/v1/dispatches/{dispatch_id}/proof.pdf": {
            "get": _op(
                "The proof of service (送达回证 / 电子送达凭证, A4 PDF): the standing certificate "
                "of a served dispatch (header `Songda-Certificate` names it); `certificate` names "
                "any of its certificates, one superseded by a reversed service too (header "
                "`Songda-Superseded-At`); a dispatch not served yet gets a preview watermarked "
                "“未送达 / NOT SERVED”, rendered on the fly and never stored",
                {"200": PDF_RESPONSE, "404": PROBLEM},
                parameters=[
                    {"name": "dispatch_id", **ID_PARAM},
                    {
                        "in": "query",
                        "name": "certificate",
                        "required": False,
                        **{k: v for k, v in ID_PARAM.items() if k == "schema"},
                    },
                ],
            ),
        },
        "/api/v1/dispatches/{dispatch_id}/attempts/{attempt_id}/mail-piece.pdf": {
            "get": _op(
                "The printable mail piece of a postal attempt (A4 PDF): cover letter listing the "
                "documents, address label with the tracking number (text, Code 128 and QR) and "
                "the return-receipt card (回执) with a QR code to the verification page",
                {"200": PDF_RESPONSE, "404": PROBLEM},
                parameters=[
                    {"name": "dispatch_id", **ID_PARAM},
                    {"name": "attempt_id", **ID_PARAM},
                ],
            ),
        },
        "/api/v1/dispatches/{dispatch_id}/attempts/{attempt_id}/return-card": {
            "post": _op(
                "Upload the scanned signed return card of a postal attempt (PDF, JPEG or PNG, "
                "checked by its first bytes); stored by SHA-256, recorded as "
                "`return_card_uploaded`",
                {"201": _ok("Stored"), "404": PROBLEM, "413": PROBLEM, "415": PROBLEM},
                parameters=[
                    {"name": "dispatch_id", **ID_PARAM},
                    {"name": "attempt_id", **ID_PARAM},
                ],
                requestBody={
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        }
                    },
                },
            ),
        },
        "/api/v1/mail-pieces.pdf": {
            "get": _op(
                "Every mail piece of the caller's courts created on a day (court time zone), "
                "one page set per piece, to print in one go",
                {"200": PDF_RESPONSE, "404": PROBLEM},
                parameters=[
                    {
                        "in": "query",
                        "name": "date",
                        "required": True,
                        "schema": {"type": "string", "format": "date"},
                    }
                ],
            ),
        },
        "/api/v1/bounces": {
            "post": _key_op(
                "Report a bounce (DSN) for an e-mail by its Message-ID and the recipient address "
                "it bounced for (both must be the attempt's, else 422 on recipient); reverses "
                "service when that e-mail's acceptance was the service (CPL-INT-135). Only a "
                "key with the bounces scope (songda apikey create --scope bounces); others 403",
                {"200": _ok("Recorded (or already known)"), "404": PROBLEM},
                requestBody=_strings_body(["message_id", "recipient"], ["diagnostic"]),
            ),
        },
        "/api/v1/webhook-endpoints": {
            "post": _key_op(
                "Register a webhook endpoint; the signing secret is returned once (it is "
                "stored encrypted and never shown again)",
                {"201": _ok("Created", "WebhookEndpoint")},
                requestBody=_json_body({"$ref": "#/components/schemas/WebhookEndpointRequest"}),
            ),
            "get": _key_op("List webhook endpoints", {"200": _ok("Endpoints")}),
        },
        "/api/v1/webhook-endpoints/{endpoint_id}": {
            "delete": _key_op(
                "Delete a webhook endpoint",
                {"204": _ok("Deleted"), "404": PROBLEM},
                parameters=[{"name": "endpoint_id", **ID_PARAM}],
            ),
        },
        "/api/v1/webhook-deliveries": {
            "get": _key_op(
                "List webhook deliveries (filter: state=pending|delivered|failed)",
                {"200": _ok("Deliveries")},
                parameters=[{"in": "query", "name": "state", "schema": {"type": "string"}}],
            ),
        },
        "/api/v1/webhook-deliveries/{delivery_id}/retry": {
            "post": _key_op(
                "Retry a webhook delivery now",
                {"202": _ok("Queued", "WebhookDelivery"), "404": PROBLEM, "409": PROBLEM},
                parameters=[{"name": "delivery_id", **ID_PARAM}],
            ),
        },
        "/api/v1/reports/service": {
            "get": _op(
                "Success-rate report: e-service usage, success and first-try rates and time to "
                "service, per channel, court, clerk, week or month",
                {"200": _ok("The report", "ServiceReport")},
                description=REPORT_DESCRIPTION,
                parameters=REPORT_PARAMETERS,
            ),
        },
        "/api/v1/reports/service.csv": {
            "get": _op(
                "The same report as CSV (UTF-8 with BOM; one row per group, totals last; "
                f"columns {', '.join(TABLE_COLUMNS)})",
                {
                    "200": {
                        "description": "CSV",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    }
                },
                description=REPORT_DESCRIPTION,
                parameters=REPORT_PARAMETERS,
            ),
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": _ok("OpenAPI")},
            },
        },
        "/healthz": {
            "get": {
                "summary": "Database and queue (Redis) reachable, each `ok` or `down`",
                "security": [],
                "responses": {"200": _ok("Healthy"), "503": _ok("Unhealthy")},
            },
        },
    },
}


async def openapi(_request: web.Request) -> web.Response:
    return json_response(SPEC)
