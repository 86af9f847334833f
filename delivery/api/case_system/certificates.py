"""``GET /api/v1/dispatches/{id}/proof.pdf``: the proof of service (送达回证 / 电子送达凭证).

The standing certificate of a served dispatch; ``?certificate=<id>`` names any of its
certificates (one superseded by a reversed service, too); a dispatch not served yet gets a
preview rendered on the fly, watermarked "未送达 / NOT SERVED" and never stored.
"""

from __future__ import annotations

from aiohttp import web

from delivery.api.case_system.dispatches import dispatch_caller
from delivery.api.http.problems import Problem, not_found, validation_problem
from delivery.api.http.request_context import ctx_of, path_id
from delivery.clock import rfc3339
from delivery.ids import looks_like_id
from delivery.services import certificate_pdfs as certificates


async def proof_pdf(request: web.Request) -> web.Response:
    who = dispatch_caller(request)
    dispatch_id = path_id(request, "dispatch_id", "dispatch")
    unknown = set(request.query) - {"certificate"}
    if unknown:
        raise validation_problem(
            [{"field": n, "message": "unknown parameter"} for n in sorted(unknown)]
        )
    certificate_id = request.query.get("certificate")
    if certificate_id is not None and not looks_like_id(certificate_id):
        raise validation_problem([{"field": "certificate", "message": "not a certificate id"}])
    try:
        found = await certificates.proof(ctx_of(request), dispatch_id, who.courts, certificate_id)
    except certificates.CertificateNotFound:
        raise not_found("certificate of this dispatch") from None
    except certificates.CertificatePending:
        raise Problem(
            503,
            "certificate-pending",
            "The certificate is not issued yet",
            "the dispatch is served; its certificate waits for the time-stamping authority "
            "and is issued as soon as it answers",
            headers={"Retry-After": "60"},
        ) from None
    if found is None:
        raise not_found("dispatch")
    headers = {}
    if found.certificate is None:
        name = f"proof-preview-{dispatch_id}.pdf"
        headers = {"Cache-Control": "no-store", "Songda-Certificate": "preview"}
    else:
        c = found.certificate
        name = f"proof-{dispatch_id}-{c.id}.pdf"
        headers = {"Songda-Certificate": c.id, "ETag": f'"{c.sha256}"'}
        if c.superseded_at is not None:
            headers["Songda-Superseded-At"] = rfc3339(c.superseded_at)
    return web.Response(
        body=found.pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"', **headers},
    )
