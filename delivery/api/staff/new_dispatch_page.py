"""The new dispatch form: ``GET/POST /staff/dispatches/new`` (clerks and supervisors).

The form's flat fields are turned into the body the JSON API takes and validated by the same
parser (:mod:`delivery.api.staff.flat_dispatch`); the dispatch is created under the court's
workspace key, so creation is idempotent on ``reference`` exactly as for a case system (a
double-click finds the first dispatch again). The documents (up to :data:`SLOTS` PDFs, each
with a title and kind) stream into the document store as they arrive and are recorded under that
key — found again when the same file, title and kind were recorded before.

When something is wrong the form comes back (422) with the messages and the values kept — the
documents already recorded too, as hidden ids, so they are not uploaded again — except the
identity number, which is never written back into a page: only its last 4 characters are
shown, to re-enter it. Success: 303 to the dispatch's page.
"""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, web
from multidict import MultiDict

from delivery.api.case_system.dispatch_request import DEFAULT_POLICY
from delivery.api.http.bodies import RefusedText, part_chunks, skip_part
from delivery.api.http.request_context import ctx_of
from delivery.api.staff import form_messages
from delivery.api.staff.auth import (
    in_locale,
    page_locale,
    require_staff,
    workspace_page,
)
from delivery.api.staff.batch_csv import document_title
from delivery.api.staff.batch_pages import file_name
from delivery.api.staff.flat_dispatch import COLUMNS, parse_flat
from delivery.api.staff.workspace_forms import multipart_form
from delivery.context import Context
from delivery.domain import DOCUMENT_KINDS, LOCALES
from delivery.identity import identity_last4
from delivery.ids import new_id
from delivery.infra.document_store import StoredFile, UploadRejected
from delivery.services.batch_intake import NOT_A_CLERK, REUSED_WITH_OTHER_DATA, SOURCE
from delivery.services.documents import owned_documents, reuse_or_store_document
from delivery.services.intake import (
    IdempotencyConflict,
    Origin,
    UnknownDocuments,
    create_dispatch,
)
from delivery.services.ownership import UnknownClerk
from delivery.services.workspace_key import workspace_key_id
from delivery.staff import Role, StaffUser
from delivery.vocabulary import RecipientRole

PATH = "/staff/dispatches/new"
ROLES = (Role.CLERK, Role.SUPERVISOR)
SLOTS = 5
KEPT = "document_id"


def fresh_reference() -> str:
    """A reference no dispatch has yet (the clerk may replace it with the case system's)."""
    return f"WS-{new_id()}"


def _form(
    request: web.Request,
    user: StaffUser,
    values: dict[str, str],
    *,
    kept: list[dict[str, Any]] | None = None,
    errors: list[dict[str, str]] | None = None,
    status: int = 200,
) -> web.Response:
    ctx = ctx_of(request)
    policies = sorted(set().union(*(ctx.policies.names_for(c) for c in user.courts)))
    errors = form_messages.shown(page_locale(request), errors or [])
    by_field: dict[str, list[str]] = {}
    for e in errors:
        by_field.setdefault(e["field"], []).append(e["message"])
    return workspace_page(
        request,
        "new_dispatch.html",
        user,
        "new",
        status=status,
        values=values,
        kept=kept or [],
        errors=errors,
        by_field=by_field,
        policies=policies,
        locales=LOCALES,
        kinds=sorted(DOCUMENT_KINDS),
        roles=list(RecipientRole),
        slots=range(1, SLOTS + 1),
        max_document_kb=ctx.settings.max_upload_bytes // 1024,
    )


async def new_form(request: web.Request) -> web.Response:
    """``GET /staff/dispatches/new``: the empty form with a fresh reference."""
    ctx = ctx_of(request)
    user = require_staff(request, *ROLES)
    values = {
        "reference": fresh_reference(),
        "court": user.courts[0],
        "policy": DEFAULT_POLICY,
        "locale": ctx.settings.default_locale,
        "consent": "no",
    }
    return _form(request, user, values)


class _Documents:
    """The chosen files as they stream in, by their slot (``doc_file_1`` …); a refused file
    is an error of its slot and the rest of the form is still read (its values kept). A slot
    takes one file: a further one is refused unread, so a form stores at most :data:`SLOTS`."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.files: dict[int, tuple[str, StoredFile]] = {}
        self.errors: list[dict[str, str]] = []

    async def take(self, part: BodyPartReader) -> None:
        slot = _slot(part.name or "")
        if slot is None:
            await skip_part(part)
            return
        name = file_name(part)
        if slot in self.files:
            await skip_part(part)
            self.errors.append(
                {"field": part.name or "", "message": f"{name}: one file per document"}
            )
            return
        try:
            stored = await self.ctx.documents.store_pdf(
                part_chunks(part), self.ctx.settings.max_upload_bytes
            )
        except UploadRejected as exc:
            await skip_part(part)
            self.errors.append({"field": part.name or "", "message": f"{name}: {exc.reason}"})
            return
        self.files[slot] = (name, stored)


def _slot(field: str) -> int | None:
    prefix, _, number = field.rpartition("_")
    if prefix != "doc_file" or not number.isdigit() or not 1 <= int(number) <= SLOTS:
        return None
    return int(number)


async def _record_files(
    ctx: Context, key_id: str, form: MultiDict[str], files: _Documents
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Record each chosen file with its slot's title and kind."""
    recorded: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for slot, (name, stored) in sorted(files.files.items()):
        kind = form.get(f"doc_kind_{slot}", "")
        if kind not in DOCUMENT_KINDS:
            errors.append({"field": f"doc_kind_{slot}", "message": f"{name}: choose its kind"})
            continue
        title = form.get(f"doc_title_{slot}", "").strip() or document_title(name)
        recorded.append(await reuse_or_store_document(ctx, key_id, stored, title, kind))
    return recorded, errors


async def create(request: web.Request) -> web.Response:
    """``POST /staff/dispatches/new``: create the dispatch, or the form again with why not."""
    ctx = ctx_of(request)
    user = require_staff(request, *ROLES)
    files = _Documents(ctx)
    try:
        form = await multipart_form(request, files.take)
    except UploadRejected as exc:
        values = {"reference": fresh_reference(), "court": user.courts[0]}
        field = exc.field if isinstance(exc, RefusedText) else "documents"
        error = {"field": field, "message": exc.reason}
        return _form(request, user, values, errors=[error], status=exc.status)
    values = {name: form.get(name, "") for name in (*COLUMNS, "court")}
    court = values["court"]
    if not user.sees(court):
        error = {"field": "court", "message": "choose one of your courts"}
        return _form(request, user, _shown(values), errors=[error], status=422)
    key_id = await workspace_key_id(ctx, court)
    kept = await owned_documents(ctx, key_id, form.getall(KEPT, []))
    recorded, errors = await _record_files(ctx, key_id, form, files)
    errors = files.errors + errors
    kept += recorded
    parsed, problems = parse_flat(ctx, values, court, [str(d["id"]) for d in kept])
    errors += problems
    if parsed is not None and not errors:
        try:
            created = await create_dispatch(ctx, key_id, parsed, Origin(SOURCE, user.actor))
        except IdempotencyConflict as exc:
            message = f"{REUSED_WITH_OTHER_DATA} (dispatch {exc.dispatch_id})"
            errors.append({"field": "reference", "message": message})
        except UnknownClerk:
            errors.append({"field": "clerk", "message": NOT_A_CLERK})
        except UnknownDocuments:
            errors.append({"field": "documents", "message": "upload the documents again"})
        else:
            path = f"/staff/dispatches/{created.dispatch_id}"
            raise web.HTTPSeeOther(in_locale(request, path, page_locale(request, form)))
    return _form(request, user, _shown(values), kept=kept, errors=errors, status=422)


def _shown(values: dict[str, str]) -> dict[str, str]:
    """The values to write back into the form: all but the identity number, of which only
    the last 4 characters are shown (as a hint to re-enter it)."""
    id_number = values.get("id_number", "").strip()
    last4 = identity_last4(id_number) if id_number else ""
    return {**values, "id_number": "", "id_number_last4": last4}


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, new_form)
    app.router.add_post(PATH, create)
