"""Proof out: the court's public keys and a dispatch's signed evidence bundle."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from delivery.api.case_system.dispatches import dispatch_caller
from delivery.api.http.problems import Problem, not_found, validation_problem
from delivery.api.http.request_context import ctx_of, json_response, path_id
from delivery.infra.keys import KeyStoreError, published_certificates, published_keys
from delivery.services.evidence import EvidenceFileMissing, evidence_bundle
from tracking.signing import key_set_json

log = logging.getLogger(__name__)
KEYS_PATH = "/.well-known/songda-keys.json"
CERTIFICATES_PATH = "/.well-known/songda-court-certificates.json"
INCLUDE_VALUES = frozenset({"documents"})


async def court_keys(request: web.Request) -> web.Response:
    """``GET /.well-known/songda-keys.json``: every court key, old ones too (no login)."""
    ctx = ctx_of(request)
    try:
        keys = await asyncio.to_thread(published_keys, ctx.settings.keys_dir)
    except KeyStoreError:
        log.exception("court keys unreadable")
        raise web.HTTPServiceUnavailable(text="court keys unavailable") from None
    response = json_response(key_set_json(keys))
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


async def court_certificates(request: web.Request) -> web.Response:
    """``GET /.well-known/songda-court-certificates.json``: the court root and each key set's
    certificates (the Ed25519 key's and the PDF-signing chain), old ones too (no login)."""
    ctx = ctx_of(request)
    try:
        published = await asyncio.to_thread(published_certificates, ctx.settings.keys_dir)
    except (KeyStoreError, OSError):
        log.exception("court certificates unreadable")
        raise web.HTTPServiceUnavailable(text="court certificates unavailable") from None
    response = json_response(published)
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


async def bundle(request: web.Request) -> web.Response:
    """``GET /api/v1/dispatches/{id}/evidence.zip[?include=documents]``."""
    ctx = ctx_of(request)
    who = dispatch_caller(request)
    dispatch_id = path_id(request, "dispatch_id", "dispatch")
    include = {v for raw in request.query.getall("include", []) for v in raw.split(",") if v}
    unknown = (include - INCLUDE_VALUES) | (set(request.query) - {"include"})
    if unknown:
        raise validation_problem(
            [{"field": "include", "message": f"unknown: {', '.join(sorted(unknown))}"}]
        )
    try:
        data = await evidence_bundle(
            ctx, dispatch_id, who.courts, include_documents="documents" in include
        )
    except EvidenceFileMissing as exc:
        log.error("evidence file missing", extra={"dispatch_id": dispatch_id, "sha256": str(exc)})
        raise Problem(
            500, "evidence-file-missing", "A file of this dispatch is missing from the store"
        ) from None
    if data is None:
        raise not_found("dispatch")
    suffix = "-with-documents" if include else ""
    return web.Response(
        body=data,
        content_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{dispatch_id}{suffix}.zip"',
            "Cache-Control": "no-store",
        },
    )
