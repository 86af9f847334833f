"""``POST /api/v1/dispatches/{id}/media``: the photo or video of a public notice's posting.

A notice posted at the residence is photographed or filmed (CPL-INT-138). The clerk (or the case
system) uploads the file here — multipart, one ``file``: a photo (JPEG, PNG, WebP) or a video
(MP4, QuickTime, WebM), recognised by its first bytes exactly as the field server's evidence
(:func:`delivery.api.http.evidence_uploads.store_evidence`) and bounded by
``SONGDA_MAX_MEDIA_BYTES`` —
then names the returned id as ``media_id`` in ``record_publication``. Recording it is
:func:`channels.public_notice.publications.upload_media` (a ``media_files`` row with purpose
``notice_posting`` and a ``media_uploaded`` event, one transaction).
"""

from __future__ import annotations

from aiohttp import BodyPartReader, web

from channels.public_notice import notices, publications
from delivery.api.case_system.dispatches import dispatch_caller
from delivery.api.case_system.documents import one_file
from delivery.api.http.evidence_uploads import store_evidence
from delivery.api.http.problems import Problem, not_found, validation_problem
from delivery.api.http.request_context import ctx_of, json_response, path_id
from delivery.infra.document_store import EvidenceFile, StoredFile

WANTED = "file: a photo (JPEG, PNG, WebP) or a video (MP4, QuickTime, WebM)"


def _refused(exc: notices.NoticeRefused) -> Problem:
    if exc.conflict:
        return Problem(409, "action-not-allowed", "Not allowed now", exc.reason)
    return validation_problem([{"field": "", "message": exc.reason}])


async def _check_notice(request: web.Request, dispatch_id: str) -> None:
    """404 unless the caller's courts include the dispatch; 409 unless its notice is published
    (checked before the body is read, so a refused upload stores nothing)."""
    try:
        refusal = await publications.media_refusal(
            ctx_of(request), dispatch_id, dispatch_caller(request).courts
        )
    except KeyError:
        raise not_found("dispatch") from None
    if refusal is not None:
        raise Problem(409, "action-not-allowed", "Not allowed now", refusal)


async def upload(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    who = dispatch_caller(request)
    dispatch_id = path_id(request, "dispatch_id", "dispatch")
    await _check_notice(request, dispatch_id)

    async def store(part: BodyPartReader) -> tuple[StoredFile, str]:
        return await store_evidence(ctx, part)

    file, media_type = await one_file(request, store, WANTED)
    try:
        media = await publications.upload_media(
            ctx, dispatch_id, EvidenceFile(file, media_type), actor=who.actor
        )
    except notices.NoticeRefused as exc:
        raise _refused(exc) from None
    return json_response(media, status=201)
