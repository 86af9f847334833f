"""``POST /api/v1/documents``: a PDF upload, stored once under its SHA-256.

The handler streams the file into the document store and checks the form fields; recording the
document is ``services.documents``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import BodyPartReader, web

from delivery.api.http.bodies import (
    RefusedText,
    multipart_parts,
    part_chunks,
    read_text,
    refused_body,
    safe_name,
)
from delivery.api.http.problems import Problem, validation_problem
from delivery.api.http.request_context import ctx_of, json_response, require_api_key
from delivery.domain import DOCUMENT_KINDS
from delivery.infra.document_store import StoredFile, UploadRejected
from delivery.services.documents import store_document
from templates.i18n import N_

MAX_FIELD_BYTES = 2000


def _unknown_field(part: BodyPartReader) -> Problem:
    return validation_problem([{"field": safe_name(part.name or ""), "message": "unknown field"}])


async def one_file(
    request: web.Request,
    store: Callable[[BodyPartReader], Awaitable[tuple[StoredFile, str]]],
    wanted: str,
) -> tuple[StoredFile, str]:
    """The one ``file`` part of a multipart upload, stored by ``store`` (which checks its type
    and size); anything else is a problem answer and nothing else is read."""
    if not request.content_type.startswith("multipart/"):
        raise Problem(415, "unsupported-media-type", "Send multipart/form-data", f"file: {wanted}")
    stored = None
    async for part in multipart_parts(request):
        if part.name != "file":
            raise _unknown_field(part)
        if stored is not None:
            raise validation_problem([{"field": "file", "message": "send one file"}])
        try:
            stored = await store(part)
        except UploadRejected as exc:
            raise refused_body(exc, "file") from None
    if stored is None:
        raise validation_problem([{"field": "file", "message": f"required ({wanted})"}])
    return stored


async def upload_document(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    key = require_api_key(request)
    if not request.content_type.startswith("multipart/"):
        raise Problem(
            415,
            "unsupported-media-type",
            "Send multipart/form-data",
            N_("fields: file (PDF), title, kind"),
        )
    fields: dict[str, str] = {}
    stored = None
    async for part in multipart_parts(request):
        if part.name == "file":
            if stored is not None:
                raise Problem(422, "validation-error", "Send one file per upload")
            try:
                stored = await ctx.documents.store_pdf(
                    part_chunks(part), ctx.settings.max_upload_bytes
                )
            except UploadRejected as exc:
                raise refused_body(exc, "file") from None
        elif part.name in ("title", "kind"):
            try:
                value = await read_text(part, MAX_FIELD_BYTES)
            except RefusedText as exc:
                raise validation_problem([{"field": exc.field, "message": exc.problem}]) from None
            if value is None:
                raise validation_problem([{"field": part.name, "message": "too long or not UTF-8"}])
            fields[part.name] = value.strip()
        else:
            raise _unknown_field(part)
    errors = []
    if stored is None:
        errors.append({"field": "file", "message": "required (a PDF)"})
    if not fields.get("title"):
        errors.append({"field": "title", "message": "required"})
    if fields.get("kind") not in DOCUMENT_KINDS:
        errors.append(
            {"field": "kind", "message": f"must be one of {', '.join(sorted(DOCUMENT_KINDS))}"}
        )
    if errors:
        raise validation_problem(errors)
    assert stored is not None
    document = await store_document(ctx, key.id, stored, fields["title"], fields["kind"])
    return json_response(document, status=201)
