"""The paths of dispatches: documents in, dispatches, clerk actions, notice media, evidence,
proof of service and the postal attempts' mail pieces and return cards."""

from __future__ import annotations

from typing import Any

from delivery.api.case_system.dispatches import LIST_PARAMETERS, MAX_PAGE
from delivery.api.case_system.openapi.actions import action_body
from delivery.api.case_system.openapi.builders import (
    ID_PARAM,
    PDF_RESPONSE,
    PROBLEM,
    file_body,
    json_body,
    key_op,
    ok,
    op,
)
from delivery.api.case_system.openapi.dispatch_schemas import values
from delivery.vocabulary import DispatchState, DocumentKind

LIST_SCHEMAS: dict[str, Any] = {
    "state": {"enum": values(DispatchState)},
    "created_from": {"type": "string", "format": "date-time"},
    "created_to": {"type": "string", "format": "date-time"},
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50},
}


DISPATCH_PATHS: dict[str, Any] = {
    "/api/v1/documents": {
        "post": key_op(
            "Upload a PDF document (multipart: file, title, kind)",
            {"201": ok("Stored", "Document"), "413": PROBLEM, "415": PROBLEM},
            requestBody=file_body(title={"type": "string"}, kind={"enum": values(DocumentKind)}),
        ),
    },
    "/api/v1/dispatches": {
        "post": key_op(
            "Create a dispatch (idempotent on reference)",
            {
                "201": ok("Created: the summary and the attempts started", "DispatchCreated"),
                "200": ok("Same request again: the same dispatch", "DispatchCreated"),
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
                    "application/json": {"schema": {"$ref": "#/components/schemas/DispatchRequest"}}
                },
            },
        ),
        "get": op(
            "List dispatches, newest first",
            {"200": ok("A page", "DispatchPage")},
            parameters=[
                {"in": "query", "name": n, "schema": LIST_SCHEMAS.get(n, {"type": "string"})}
                for n in LIST_PARAMETERS
            ],
        ),
    },
    "/api/v1/dispatches/{dispatch_id}": {
        "get": op(
            "A dispatch with attempts and event timeline",
            {"200": ok("The dispatch", "Dispatch"), "404": PROBLEM},
            parameters=[{"name": "dispatch_id", **ID_PARAM}],
        ),
    },
    "/api/v1/dispatches/{dispatch_id}/cancel": {
        "post": op(
            "Cancel an open dispatch",
            {"200": ok("Cancelled", "Dispatch"), "404": PROBLEM, "409": PROBLEM},
            parameters=[{"name": "dispatch_id", **ID_PARAM}],
            requestBody=json_body(
                {"type": "object", "properties": {"reason": {"type": "string"}}},
                required=False,
            ),
        ),
    },
    "/api/v1/dispatches/{dispatch_id}/actions": {
        "post": op(
            "A clerk's action, each with a required note (the body's schema names every "
            "action's details); the dispatch's allowed_actions lists what its state allows. "
            "record_outcome brings the scan of the signed proof (a PDF, JPEG or PNG, at most "
            "SONGDA_MAX_UPLOAD_BYTES) as multipart/form-data; a refused field is 422 naming "
            "it. reassign_owner names a clerk of the court (any state); edit_notice, "
            "approve_notice and record_publication only while notice_pending, and "
            "approve_notice from a supervisor's session only (else 403); the other actions "
            "while the dispatch is open (record_rebuttal once served)",
            {
                "200": ok("Done: the dispatch", "Dispatch"),
                "404": PROBLEM,
                "409": PROBLEM,
                "422": PROBLEM,
            },
            parameters=[{"name": "dispatch_id", **ID_PARAM}],
            requestBody=action_body(),
        ),
    },
    "/api/v1/dispatches/{dispatch_id}/media": {
        "post": op(
            "Upload the photo or video of a public notice's posting (CPL-INT-138: a posting "
            "at the residence is photographed or filmed): one file, a photo (JPEG, PNG, WebP) "
            "or a video (MP4, QuickTime, WebM) checked by its first bytes, at most "
            "SONGDA_MAX_MEDIA_BYTES; only while the dispatch's notice is published. Stored "
            "by SHA-256 (purpose notice_posting), recorded as `media_uploaded`; name its id "
            "as media_id in record_publication",
            {
                "201": ok("Stored", "Media"),
                "404": PROBLEM,
                "409": PROBLEM,
                "413": PROBLEM,
                "415": PROBLEM,
            },
            parameters=[{"name": "dispatch_id", **ID_PARAM}],
            requestBody=file_body(),
        ),
    },
    "/api/v1/dispatches/{dispatch_id}/evidence.zip": {
        "get": op(
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
        "post": op(
            "Revoke an attempt's recipient link and send a new one (unlocks a locked link)",
            {"202": ok("A new attempt carries the new link"), "404": PROBLEM, "409": PROBLEM},
            parameters=[
                {"name": "dispatch_id", **ID_PARAM},
                {"name": "attempt_id", **ID_PARAM},
            ],
        ),
    },
    "/api/v1/dispatches/{dispatch_id}/proof.pdf": {
        "get": op(
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
        "get": op(
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
        "post": op(
            "Upload the scanned signed return card of a postal attempt (PDF, JPEG or PNG, "
            "checked by its first bytes); stored by SHA-256, recorded as "
            "`return_card_uploaded`",
            {"201": ok("Stored"), "404": PROBLEM, "413": PROBLEM, "415": PROBLEM},
            parameters=[
                {"name": "dispatch_id", **ID_PARAM},
                {"name": "attempt_id", **ID_PARAM},
            ],
            requestBody=file_body(),
        ),
    },
    "/api/v1/mail-pieces.pdf": {
        "get": op(
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
}
