"""The paths around dispatches: bounce reports, webhooks, the service report, the document
itself and the health check."""

from __future__ import annotations

from typing import Any

from delivery.api.case_system.openapi.builders import (
    ID_PARAM,
    PROBLEM,
    json_body,
    key_op,
    ok,
    op,
    strings_body,
)
from delivery.api.case_system.openapi.dispatch_schemas import values
from delivery.services.report_figures import DEFINITIONS
from delivery.services.reports import GROUPINGS, TABLE_COLUMNS
from delivery.vocabulary import WebhookDeliveryState

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
    + "; ".join(f"**{name}**: {text}" for name, text in DEFINITIONS.items())
    + "."
)

SERVICE_PATHS: dict[str, Any] = {
    "/api/v1/bounces": {
        "post": key_op(
            "Report a bounce (DSN) for an e-mail by its Message-ID and the recipient address "
            "it bounced for (both must be the attempt's, else 422 on recipient); reverses "
            "service when that e-mail's acceptance was the service (CPL-INT-135). Only a "
            "key with the bounces scope (songda apikey create --scope bounces); others 403",
            {"200": ok("Recorded (or already known)"), "404": PROBLEM},
            requestBody=strings_body(["message_id", "recipient"], ["diagnostic"]),
        ),
    },
    "/api/v1/replies": {
        "post": key_op(
            "Report a reply the court's mail server received: the raw RFC 5322 message, "
            "matched to the e-mail it answers by In-Reply-To/References. A reply from the "
            "recipient's address serves (OLR-31), dated on arrival; an automatic reply "
            "(Auto-Submitted, X-Autoreply, Precedence bulk/auto_reply, multipart/report) or "
            "one from another address is evidence only. Only a key with the bounces scope; "
            "others 403",
            {"200": ok("Recorded"), "404": PROBLEM, "413": PROBLEM},
            requestBody={
                "required": True,
                "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
            },
        ),
    },
    "/api/v1/webhook-endpoints": {
        "post": key_op(
            "Register a webhook endpoint; the signing secret is returned once (it is "
            "stored encrypted and never shown again)",
            {"201": ok("Created", "WebhookEndpoint")},
            requestBody=json_body({"$ref": "#/components/schemas/WebhookEndpointRequest"}),
        ),
        "get": key_op("List webhook endpoints", {"200": ok("Endpoints", "WebhookEndpoints")}),
    },
    "/api/v1/webhook-endpoints/{endpoint_id}": {
        "delete": key_op(
            "Delete a webhook endpoint",
            {"204": ok("Deleted"), "404": PROBLEM},
            parameters=[{"name": "endpoint_id", **ID_PARAM}],
        ),
    },
    "/api/v1/webhook-deliveries": {
        "get": key_op(
            "List webhook deliveries (filter: state)",
            {"200": ok("Deliveries", "WebhookDeliveries")},
            parameters=[
                {"in": "query", "name": "state", "schema": {"enum": values(WebhookDeliveryState)}}
            ],
        ),
    },
    "/api/v1/webhook-deliveries/{delivery_id}/retry": {
        "post": key_op(
            "Retry a webhook delivery now",
            {"202": ok("Queued", "WebhookDelivery"), "404": PROBLEM, "409": PROBLEM},
            parameters=[{"name": "delivery_id", **ID_PARAM}],
        ),
    },
    "/api/v1/reports/service": {
        "get": op(
            "Success-rate report: e-service usage, success and first-try rates and time to "
            "service, per channel, court, clerk, week or month",
            {"200": ok("The report", "ServiceReport")},
            description=REPORT_DESCRIPTION,
            parameters=REPORT_PARAMETERS,
        ),
    },
    "/api/v1/reports/service.csv": {
        "get": op(
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
            "responses": {"200": ok("OpenAPI")},
        },
    },
    "/healthz": {
        "get": {
            "summary": "Database and queue (Redis) reachable, each `ok` or `down`",
            "security": [],
            "responses": {"200": ok("Healthy"), "503": ok("Unhealthy")},
        },
    },
}
