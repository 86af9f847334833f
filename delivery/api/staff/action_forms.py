"""A clerk action sent as ``multipart/form-data`` with its file: ``record_outcome``'s scan of the
signed proof (CPL-87), ``repair_contact``'s reply document — and, for the latter, the carrier's
results as a CSV file in the part ``rows`` (ICP-16), read as text (UTF-8 or GBK) into the
field ``rows``.

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

from delivery.api.http.bodies import part_chunks, read_bounded
from delivery.api.staff.batch_csv import CsvRejected, decode
from delivery.api.staff.workspace_forms import multipart_form
from delivery.context import Context
from delivery.infra.document_store import EvidenceFile
from delivery.services import contact_repair, signed_proof


async def read_action_form(
    request: web.Request, ctx: Context, *, csrf: bool
) -> tuple[MultiDict[str], EvidenceFile | None]:
    """The form's text fields and its stored, checked scan (None when no file was chosen).

    Raises ``signed_proof.ProofRefused`` for a refused scan (a second file, another file
    field, an empty, oversized, mistyped or unreadable file) and ``UploadRejected`` for a form
    that is not multipart or has an oversized text field; ``csrf`` as for ``multipart_form``.
    """
    scans: list[EvidenceFile] = []

    rows: list[str] = []

    async def on_file(part: BodyPartReader) -> None:
        if part.name == contact_repair.ROWS_FIELD and not rows:
            rows.append(await _csv_text(part))
            return
        if part.name != signed_proof.SCAN_FIELD:
            raise signed_proof.ProofRefused(
                signed_proof.SCAN_FIELD, f"the file goes in the field scan, not {part.name}"
            )
        if scans:
            raise signed_proof.ProofRefused(signed_proof.SCAN_FIELD, "send one file")
        scans.append(await signed_proof.store_scan(ctx, part_chunks(part)))

    fields = await multipart_form(request, on_file, csrf=csrf)
    if rows:
        fields[contact_repair.ROWS_FIELD] = rows[0]
    return fields, scans[0] if scans else None


async def _csv_text(part: BodyPartReader) -> str:
    data = await read_bounded(part, contact_repair.MAX_ROWS_BYTES)
    if data is None:
        raise signed_proof.ProofRefused(contact_repair.ROWS_FIELD, "at most 64 KB of CSV")
    try:
        return decode(data)[0]
    except CsvRejected as exc:
        raise signed_proof.ProofRefused(contact_repair.ROWS_FIELD, exc.reason) from None
