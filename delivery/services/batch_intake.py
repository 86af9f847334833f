"""Turning a read CSV batch into dispatches: validate every row, store the documents the valid
rows name, create their dispatches, record the batch.

Every row goes through the API's own parser (:func:`delivery.api.staff.flat_dispatch.parse_flat`),
first with stand-in document ids — so that nothing is stored for rows that are refused — then,
for the valid rows, with the ids of the stored documents. Dispatches are created under the
court's workspace key, idempotent on ``reference``: re-uploading a fixed file finds the good rows'
dispatches again and creates only the fixed ones. That holds because the documents uploaded
again are found again (:func:`reuse_or_store_document`), so a repeated row's body is the same;
a row whose reference was queued with different data is reported, not created.
"""

from __future__ import annotations

from delivery.api.staff.batch_csv import CsvRow, document_title, read_csv
from delivery.api.staff.flat_dispatch import parse_flat
from delivery.context import Context
from delivery.ids import new_id
from delivery.infra.document_store import StoredFile
from delivery.services.batches import QueuedRow, record_batch
from delivery.services.documents import reuse_or_store_document
from delivery.services.intake import IdempotencyConflict, Origin, create_dispatch
from delivery.services.ownership import UnknownClerk
from delivery.services.workspace_key import workspace_key_id
from delivery.staff import StaffUser
from templates.i18n import N_

SOURCE = "workspace"
REUSED_WITH_OTHER_DATA = N_("reference already used with different data")
NOT_A_CLERK = N_("not the username of a clerk of this court")


def _validate(ctx: Context, court: str, rows: list[CsvRow]) -> None:
    """Add the parser's errors to each row's own (document ids stood in for: none is stored
    yet), so that the clerk sees every problem of every row at once, not one per upload. A row
    whose documents could not be read from the file (already reported on that column) is
    checked with one stand-in document, so the parser does not report them a second time."""
    stand_ins: dict[tuple[str, str], str] = {}
    for row in rows:
        ids = [stand_ins.setdefault(d, new_id()) for d in row.documents] or [new_id()]
        _request, errors = parse_flat(ctx, row.fields, court, ids)
        row.errors.extend(errors)


async def _documents(
    ctx: Context, key_id: str, rows: list[CsvRow], files: dict[str, StoredFile]
) -> dict[tuple[str, str], str]:
    """The document id of every (file name, kind) the rows name, stored or found again."""
    ids: dict[tuple[str, str], str] = {}
    for row in rows:
        for name, kind in row.documents:
            if (name, kind) not in ids:
                document = await reuse_or_store_document(
                    ctx, key_id, files[name], document_title(name), kind
                )
                ids[(name, kind)] = str(document["id"])
    return ids


async def _create(
    ctx: Context, user: StaffUser, court: str, valid: list[CsvRow], files: dict[str, StoredFile]
) -> list[QueuedRow]:
    """Record the valid rows' documents and create their dispatches; the rows queued (a row
    refused at creation gets its error instead)."""
    key_id = await workspace_key_id(ctx, court)
    document_ids = await _documents(ctx, key_id, valid, files)
    queued: list[QueuedRow] = []
    for row in valid:
        request, errors = parse_flat(
            ctx, row.fields, court, [document_ids[d] for d in row.documents]
        )
        assert request is not None, errors  # the same row passed with stand-in ids
        try:
            created = await create_dispatch(ctx, key_id, request, Origin(SOURCE, user.actor))
        except IdempotencyConflict:
            row.error("reference", REUSED_WITH_OTHER_DATA)
            continue
        except UnknownClerk:
            row.error("clerk", NOT_A_CLERK)
            continue
        queued.append(QueuedRow(row.row, row.reference, created.dispatch_id))
    return queued


async def run_batch(
    ctx: Context,
    user: StaffUser,
    court: str,
    filename: str,
    data: bytes,
    files: dict[str, StoredFile],
) -> str:
    """Queue the valid rows of the CSV ``data`` (``files``: the uploaded documents by file
    name) and record the batch; its id. CsvRejected, with nothing stored, for a file that
    cannot be read as a batch."""
    started_at = ctx.clock.now()
    parsed = read_csv(data, set(files))
    _validate(ctx, court, parsed.rows)
    valid = [r for r in parsed.rows if not r.errors]
    queued = await _create(ctx, user, court, valid, files) if valid else []
    return await record_batch(
        ctx,
        court=court,
        created_by=user.id,
        filename=filename,
        encoding=parsed.encoding,
        rows_total=len(parsed.rows),
        errors=[
            {"row": r.row, "reference": r.reference, **e} for r in parsed.rows for e in r.errors
        ],
        queued=queued,
        started_at=started_at,
    )
