"""CSV batches in the clerk workspace.

- ``GET /staff/batches``: the upload form (with the columns explained) and the court's latest
  batches;
- ``POST /staff/batches``: ``multipart/form-data`` — the CSRF token, ``court``, the CSV
  (``csv``) and the documents it names (``documents``, any number of PDFs, matched by file
  name). A file that cannot be read as a batch is refused with the reason and nothing stored;
  otherwise the batch is recorded (``batch_intake.run_batch``) and the browser goes to its page;
- ``GET /staff/batches/template.csv``: the header and one example row (UTF-8 with BOM);
- ``GET /staff/batches/{id}``: the row errors (row number, column, reason), the queued rows and
  the live progress, refreshed by workspace.js from
- ``GET /staff/batches/{id}/progress``: queued / sent / served / failed / cancelled as JSON.

Clerks and supervisors; another court's batch does not exist for them (404).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from delivery.api.case_system.dispatch_request import CONSENT_BASES, DEFAULT_POLICY
from delivery.api.http.bodies import RefusedText, part_chunks, read_bounded, skip_part
from delivery.api.http.request_context import ctx_of, json_response
from delivery.api.staff import form_messages
from delivery.api.staff.auth import (
    in_locale,
    page_locale,
    require_staff,
    workspace_page,
)
from delivery.api.staff.batch_csv import MAX_BYTES, MAX_ROWS, CsvRejected, template_csv
from delivery.api.staff.flat_dispatch import COLUMNS
from delivery.api.staff.workspace_forms import multipart_form
from delivery.domain import DOCUMENT_KINDS
from delivery.infra.document_store import StoredFile, UploadRejected
from delivery.services import batches
from delivery.services.batch_intake import run_batch
from delivery.staff import Role, StaffUser
from delivery.text import text_problem
from delivery.vocabulary import ContactSource, RecipientRole

PATH = "/staff/batches"
ID = "{batch_id:[0-9A-HJKMNP-TV-Z]{26}}"
ROLES = (Role.CLERK, Role.SUPERVISOR)
MAX_FILES = 500
# Every document is bounded by SONGDA_MAX_UPLOAD_BYTES; the batch as a whole by this too, so one
# upload cannot fill the document store's disk (files are kept content-addressed once written).
MAX_BATCH_BYTES = 2 * 1024**3


def file_name(part: BodyPartReader) -> str:
    """The part's file's own name, without any folder a browser may send with it. Browsers send
    the name as UTF-8 with ``"`` and line breaks percent-encoded (HTML's form-data rules); other
    clients (aiohttp's) percent-encode every non-ASCII byte: both are decoded. It becomes a
    document's title, so it is held to the rule of stored text (RefusedText otherwise)."""
    name = PurePosixPath(unquote(part.filename or "").replace("\\", "/")).name
    if (problem := text_problem(name)) is not None:
        raise RefusedText(part.name or "", f"file name {problem}")
    return name


def _page(
    request: web.Request,
    user: StaffUser,
    recent: list[dict[str, Any]],
    *,
    error: str | None = None,
    court: str | None = None,
    status: int = 200,
) -> web.Response:
    ctx = ctx_of(request)
    return workspace_page(
        request,
        "batches.html",
        user,
        "batches",
        status=status,
        columns=COLUMNS,
        court=court or user.courts[0],
        recent=recent,
        error=error,
        max_rows=MAX_ROWS,
        max_mb=MAX_BYTES // (1024 * 1024),
        max_document_kb=ctx.settings.max_upload_bytes // 1024,
        # The values a column takes, each shown with its label (a clerk types the code).
        roles=list(RecipientRole),
        kinds=sorted(DOCUMENT_KINDS),
        bases=CONSENT_BASES,
        sources=list(ContactSource),
        default_policy=DEFAULT_POLICY,
    )


async def index(request: web.Request) -> web.Response:
    user = require_staff(request, *ROLES)
    return _page(request, user, await batches.recent_batches(ctx_of(request), user.courts))


class _Upload:
    """The files of one upload as they stream in: the CSV in memory (bounded), the
    documents into the document store."""

    def __init__(self, request: web.Request) -> None:
        self.ctx = ctx_of(request)
        self.csv: bytes | None = None
        self.csv_name = ""
        self.documents: dict[str, StoredFile] = {}
        self.remaining = MAX_BATCH_BYTES

    async def take(self, part: BodyPartReader) -> None:
        name = file_name(part)
        if part.name == "csv":
            if self.csv is not None:
                raise UploadRejected("csv: send one CSV file")
            data = await read_bounded(part, MAX_BYTES)
            if data is None:
                raise UploadRejected(f"csv: larger than {MAX_BYTES // (1024 * 1024)} MB", 413)
            self.csv, self.csv_name = data, name
        elif part.name == "documents":
            if len(self.documents) >= MAX_FILES:
                raise UploadRejected(f"documents: at most {MAX_FILES} files per batch")
            limit = min(self.ctx.settings.max_upload_bytes, self.remaining)
            try:
                stored = await self.ctx.documents.store_pdf(part_chunks(part), limit)
            except UploadRejected as exc:
                if exc.status == 413 and limit < self.ctx.settings.max_upload_bytes:
                    total = MAX_BATCH_BYTES // 1024**2
                    raise UploadRejected(f"documents: more than {total} MB in all", 413) from None
                raise UploadRejected(f"documents: {name}: {exc.reason}", exc.status) from None
            self.remaining -= stored.size
            if self.documents.get(name, stored) != stored:
                raise UploadRejected(f"documents: two different files are named {name}")
            self.documents[name] = stored
        else:
            await skip_part(part)


async def upload(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    user = require_staff(request, *ROLES)
    files = _Upload(request)
    court = None
    try:
        form = await multipart_form(request, files.take)
        court = form.get("court", "")
        if not user.sees(court):
            raise UploadRejected("court: choose one of your courts")
        if files.csv is None:
            raise UploadRejected("csv: choose the CSV file")
        batch_id = await run_batch(ctx, user, court, files.csv_name, files.csv, files.documents)
    except (UploadRejected, CsvRejected) as exc:
        status = exc.status if isinstance(exc, UploadRejected) else 422
        recent = await batches.recent_batches(ctx, user.courts)
        return _page(request, user, recent, error=exc.reason, court=court, status=status)
    raise web.HTTPSeeOther(in_locale(request, f"{PATH}/{batch_id}", page_locale(request, form)))


async def template(request: web.Request) -> web.Response:
    require_staff(request, *ROLES)
    return web.Response(
        body=template_csv(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="songda-batch-template.csv"'},
    )


async def _batch(request: web.Request) -> tuple[StaffUser, dict[str, Any]]:
    user = require_staff(request, *ROLES)
    found = await batches.batch(ctx_of(request), request.match_info["batch_id"], user.courts)
    if found is None:
        raise web.HTTPNotFound(text="404: no such batch")
    return user, found


async def batch_page(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    user, found = await _batch(request)
    return workspace_page(
        request,
        "batch.html",
        user,
        "batches",
        batch=found,
        # The rows' problems as stored (the parser's English), shown in the page's language.
        row_errors=form_messages.shown(page_locale(request), found["errors"] or []),
        progress=await batches.progress(ctx, found["id"]),
    )


async def progress(request: web.Request) -> web.Response:
    _user, found = await _batch(request)
    response = json_response(await batches.progress(ctx_of(request), found["id"]))
    response.headers["Cache-Control"] = "no-store"
    return response


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(PATH, index)
    r.add_post(PATH, upload)
    r.add_get(f"{PATH}/template.csv", template)
    r.add_get(f"{PATH}/{ID}", batch_page)
    r.add_get(f"{PATH}/{ID}/progress", progress)
