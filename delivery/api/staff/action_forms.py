"""A clerk action sent as ``multipart/form-data`` with its file: ``record_outcome``'s scan of the
signed proof (CPL-87).

The API (``POST /api/v1/dispatches/{id}/actions``) and the staff dispatch page
(``POST /staff/dispatches/{id}/actions``) read such a form the same way: text fields are the
action, its note and its details; the one file part named ``scan`` is streamed to the document
store and opened (:func:`signed_proof.store_scan`) as it arrives, so a refused file ends the
request before anything is recorded. The action itself then runs once, through
``clerk_requests.submit``, with the file as its evidence (docs/decisions/0022).
"""

from __future__ import annotations

from aiohttp import BodyPartReader, web
from multidict import MultiDict

from delivery.api.http.bodies import part_chunks
from delivery.api.staff.workspace_forms import multipart_form
from delivery.context import Context
from delivery.infra.document_store import EvidenceFile
from delivery.services import signed_proof


async def read_action_form(
    request: web.Request, ctx: Context, *, csrf: bool
) -> tuple[MultiDict[str], EvidenceFile | None]:
    """The form's text fields and its stored, checked scan (None when no file was chosen).

    Raises ``signed_proof.ProofRefused`` for a refused scan (a second file, another file
    field, an empty, oversized, mistyped or unreadable file) and ``UploadRejected`` for a form
    that is not multipart or has an oversized text field; ``csrf`` as for ``multipart_form``.
    """
    scans: list[EvidenceFile] = []

    async def on_file(part: BodyPartReader) -> None:
        if part.name != signed_proof.SCAN_FIELD:
            raise signed_proof.ProofRefused(
                signed_proof.SCAN_FIELD, f"the file goes in the field scan, not {part.name}"
            )
        if scans:
            raise signed_proof.ProofRefused(signed_proof.SCAN_FIELD, "send one file")
        scans.append(await signed_proof.store_scan(ctx, part_chunks(part)))

    fields = await multipart_form(request, on_file, csrf=csrf)
    return fields, scans[0] if scans else None
