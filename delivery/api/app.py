"""The aiohttp application factory: routes and middleware, nothing else."""

from __future__ import annotations

from aiohttp import web

from delivery import methods
from delivery.api.case_system import (
    case_groups,
    certificates,
    dispatches,
    documents,
    evidence,
    reports,
    webhooks,
)
from delivery.api.case_system.openapi import document as openapi
from delivery.api.http import health, static_files
from delivery.api.http.headers import security_headers
from delivery.api.http.middleware import VERIFIER, api_keys, fresh_connection, problems
from delivery.api.http.rate_limit import public_limits
from delivery.api.http.request_context import CONTEXT, PUBLIC_PDFS
from delivery.api.public import confirmation_pages, home, recipient_pages, verification_pages
from delivery.api.staff import auth as staff_auth
from delivery.api.staff import batch_pages, new_dispatch_page, report_pages, reveal_exports
from delivery.api.staff import queue_page as workspace_pages
from delivery.context import Context
from delivery.infra.public_pdfs import PublicPdfs
from delivery.services.api_keys import ApiKeyVerifier

API = "/api/v1"


def create_app(ctx: Context) -> web.Application:
    # 1 MB for JSON and forms; uploads stream through request.multipart(), which this limit
    # does not apply to, and are bounded by SONGDA_MAX_UPLOAD_BYTES as they are read.
    # Public limits come first: a refused request costs no database work.
    app = web.Application(
        middlewares=[
            public_limits,
            problems,
            fresh_connection,
            staff_auth.staff_sessions,
            api_keys,
        ],
        client_max_size=1024 * 1024,
    )
    app.on_response_prepare.append(security_headers)
    app[CONTEXT] = ctx
    app[PUBLIC_PDFS] = PublicPdfs(ctx.documents)
    app[VERIFIER] = ApiKeyVerifier(ctx.engine)
    r = app.router
    r.add_post(f"{API}/documents", documents.upload_document)
    r.add_post(f"{API}/dispatches", dispatches.create)
    r.add_get(f"{API}/dispatches", dispatches.index)
    r.add_get(f"{API}/dispatches/{{dispatch_id}}", dispatches.get)
    r.add_post(f"{API}/dispatches/{{dispatch_id}}/cancel", dispatches.cancel)
    r.add_post(f"{API}/dispatches/{{dispatch_id}}/actions", dispatches.act)
    r.add_get(f"{API}/dispatches/{{dispatch_id}}/evidence.zip", evidence.bundle)
    r.add_get(evidence.KEYS_PATH, evidence.court_keys)
    r.add_get(evidence.CERTIFICATES_PATH, evidence.court_certificates)
    r.add_get(f"{API}/dispatches/{{dispatch_id}}/proof.pdf", certificates.proof_pdf)
    r.add_post(
        f"{API}/dispatches/{{dispatch_id}}/attempts/{{attempt_id}}/reissue-link",
        dispatches.reissue_link,
    )
    r.add_post(f"{API}/webhook-endpoints", webhooks.create_endpoint)
    r.add_get(f"{API}/webhook-endpoints", webhooks.list_endpoints)
    r.add_delete(f"{API}/webhook-endpoints/{{endpoint_id}}", webhooks.delete_endpoint)
    r.add_get(f"{API}/webhook-deliveries", webhooks.list_deliveries)
    r.add_post(f"{API}/webhook-deliveries/{{delivery_id}}/retry", webhooks.retry)
    r.add_get(f"{API}/openapi.json", openapi.openapi)
    r.add_get("/healthz", health.healthz)
    r.add_get("/r/{token}", recipient_pages.landing)
    r.add_post("/r/{token}/verify", recipient_pages.verify)
    r.add_post("/r/{token}/code", recipient_pages.request_code)
    r.add_get("/r/{token}/documents/{document_id}", recipient_pages.download)
    r.add_get("/c/{token}", confirmation_pages.landing)
    r.add_post("/c/{token}", confirmation_pages.submit)
    r.add_post("/c/{token}/verify", confirmation_pages.verify)
    r.add_get("/c/{token}/form.pdf", confirmation_pages.signed_form)
    staff_auth.add_routes(app)
    # Each method of service's pages and provider hooks (delivery/methods.py).
    methods.add_routes(app)
    batch_pages.add_routes(app)
    new_dispatch_page.add_routes(app)
    verification_pages.add_routes(app)
    home.add_routes(app)
    static_files.add_routes(app)
    workspace_pages.add_routes(app)
    reveal_exports.add_routes(app)
    reports.add_routes(app)
    case_groups.add_routes(app)
    report_pages.add_routes(app)
    return app
