"""The case system's dispatch endpoints: create (idempotent), read, list, cancel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from delivery.api.case_system.dispatch_request import parse_dispatch_request
from delivery.api.http.bodies import read_json, refused_body
from delivery.api.http.problems import Problem, not_found, validation_problem
from delivery.api.http.request_context import (
    Caller,
    caller,
    ctx_of,
    json_response,
    path_id,
    require_api_key,
)
from delivery.api.staff.action_forms import read_action_form
from delivery.clock import rfc3339
from delivery.cursors import decode_cursor, encode_cursor
from delivery.domain import Attempt, Dispatch, DispatchState
from delivery.infra.document_store import EvidenceFile, UploadRejected
from delivery.representations import (
    attempt_view,
    contact_view,
    dispatch_summary,
    event_view,
    notice_view,
)
from delivery.services import clerk_actions, clerk_requests, link_reissue, signed_proof
from delivery.services.cancel import NotCancellable, cancel_dispatch
from delivery.services.intake import IdempotencyConflict, UnknownDocuments, create_dispatch
from delivery.services.ownership import UnknownClerk
from delivery.staff import Role
from delivery.storage import queries
from delivery.storage.engine import READ_ONLY
from templates.i18n import N_
from tracking.verification import certificate_url

MAX_PAGE = 200
# Staff who may read and act on dispatches through the API (a field server may not).
DISPATCH_ROLES = (Role.CLERK, Role.SUPERVISOR)
LIST_PARAMETERS = (
    "state",
    "case_number",
    "court",
    "created_from",
    "created_to",
    "limit",
    "cursor",
)


async def create(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    key = require_api_key(request)
    body = await read_json(request)
    parsed, errors = parse_dispatch_request(body, ctx.settings.default_locale, ctx.policies)
    if parsed is None:
        raise validation_problem(errors)
    header_key = request.headers.get("Idempotency-Key")
    if header_key is not None and header_key != parsed.reference:
        raise Problem(
            422,
            "idempotency-key-mismatch",
            "Idempotency-Key must equal reference",
            N_("send the dispatch's reference as its Idempotency-Key, or omit the header"),
        )
    if not key.sees(parsed.court):
        raise Problem(
            403,
            "court-not-in-scope",
            "This API key cannot create dispatches for that court",
            f"the key is scoped to: {', '.join(key.courts)}",
        )
    try:
        created = await create_dispatch(ctx, key.id, parsed)
    except UnknownDocuments as exc:
        raise validation_problem(
            [{"field": "documents", "message": f"unknown document id {d}"} for d in exc.ids]
        ) from None
    except UnknownClerk:
        raise validation_problem(
            [{"field": "clerk", "message": "not the username of an active clerk of that court"}]
        ) from None
    except IdempotencyConflict as exc:
        raise Problem(
            409,
            "idempotency-conflict",
            "Reference already used with a different body",
            N_("a dispatch with this reference exists and differs from this request"),
            dispatch_id=exc.dispatch_id,
        ) from None
    if created.dispatch is not None:
        body = creation_view(created.dispatch, created.attempts)
    else:
        detail = await _load(request, created.dispatch_id)
        body = creation_view(detail.dispatch, detail.attempts)
    response = json_response(body, status=201 if created.is_new else 200)
    response.headers["Location"] = f"/api/v1/dispatches/{created.dispatch_id}"
    return response


def creation_view(dispatch: Dispatch, attempts: Sequence[Attempt]) -> dict[str, Any]:
    """The answer to a create: the summary and the attempts started; the full record (contacts,
    documents, events) is one GET away, so a create does not read it back."""
    return {
        "id": dispatch.id,
        **dispatch_summary(dispatch),
        "attempts": [attempt_view(a) for a in attempts],
    }


def dispatch_caller(request: web.Request) -> Caller:
    """The caller, if it may use the dispatch endpoints (API keys; clerks and supervisors)."""
    return caller(request, *DISPATCH_ROLES)


async def _load(request: web.Request, dispatch_id: str) -> queries.DispatchDetail:
    """The dispatch with its history, or 404 unless the caller's courts include it."""
    courts = dispatch_caller(request).courts
    detail = await queries.read_dispatch_detail(ctx_of(request).engine, dispatch_id, courts)
    if detail is None:
        raise not_found("dispatch")
    return detail


async def _detail(request: web.Request, dispatch_id: str) -> dict[str, Any]:
    detail = await _load(request, dispatch_id)
    d, certificate = detail.dispatch, detail.certificate
    return {
        "id": d.id,
        **dispatch_summary(d),
        "locale": d.locale,
        "hearing_at": rfc3339(d.hearing_at) if d.hearing_at else None,
        "service_deadline_at": rfc3339(d.service_deadline_at) if d.service_deadline_at else None,
        "next_action_at": rfc3339(d.next_action_at) if d.next_action_at else None,
        "step": d.step_index,
        "recipient": {
            "name": d.recipient_name,
            "role": d.recipient_role,
            "id_number_last4": d.id_last4,
            "e_service_consent": {"given": d.consent_given, "basis": d.consent_basis},
            "contacts": [contact_view(c, detail.confirmations) for c in d.contacts],
        },
        "documents": [
            {
                "id": doc.id,
                "title": doc.title,
                "kind": doc.kind,
                "sha256": doc.sha256,
                "size": doc.size,
            }
            for doc in detail.documents
        ],
        "attempts": [attempt_view(a) for a in detail.attempts],
        "events": [event_view(e) for e in detail.events],
        "chain_head": detail.chain_head,
        "certificate_id": None if certificate is None else certificate.id,
        # The chain_head above moves on after service; the certificate pins its own.
        "verification_url": None
        if certificate is None
        else certificate_url(
            ctx_of(request).settings.public_base_url, d.id, certificate.chain_head
        ),
        "allowed_actions": clerk_actions.allowed_actions(d),
        "owner_id": d.owner_id,
        # While notice_pending the notice as it stands (approve_notice names its text_sha256);
        # after it, kept: where and when it was published, when service was deemed.
        "notice": None if detail.notice is None else notice_view(detail.notice),
    }


async def get(request: web.Request) -> web.Response:
    dispatch_caller(request)
    return json_response(await _detail(request, path_id(request, "dispatch_id", "dispatch")))


def _time_param(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise validation_problem(
            [{"field": name, "message": "must be an RFC 3339 time with an offset"}]
        )
    return value


def _cursor(request: web.Request) -> str | None:
    raw = request.query.get("cursor")
    if raw is None:
        return None
    value = decode_cursor(raw)
    if value is None:
        raise validation_problem([{"field": "cursor", "message": "not a cursor from this API"}])
    return value


async def index(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    key = dispatch_caller(request)
    q = request.query
    unknown = set(q) - set(LIST_PARAMETERS)
    if unknown:
        raise validation_problem(
            [{"field": n, "message": "unknown parameter"} for n in sorted(unknown)]
        )
    state = q.get("state")
    if state is not None and state not in {s.value for s in DispatchState}:
        raise validation_problem([{"field": "state", "message": "unknown state"}])
    try:
        limit = int(q.get("limit", "50"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE:
        raise validation_problem([{"field": "limit", "message": f"must be 1 to {MAX_PAGE}"}])
    courts = key.courts
    if "court" in q:
        courts = tuple(c for c in courts if c == q["court"])
    flt = queries.DispatchFilter(
        courts=courts,
        state=state,
        case_number=q.get("case_number"),
        created_from=_time_param(request, "created_from"),
        created_to=_time_param(request, "created_to"),
        before_id=_cursor(request),
        limit=limit + 1,
    )
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        found = await queries.list_dispatches(conn, flt)
    page = found[:limit]
    next_cursor = encode_cursor(page[-1].id) if len(found) > limit else None
    return json_response(
        {"items": [{"id": d.id, **dispatch_summary(d)} for d in page], "next_cursor": next_cursor}
    )


async def cancel(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    who = dispatch_caller(request)
    dispatch_id = path_id(request, "dispatch_id", "dispatch")
    await _load(request, dispatch_id)  # 404 unless the caller may see it
    reason = None
    if request.can_read_body:
        body = await read_json(request)
        if set(body) - {"reason"}:
            raise validation_problem(
                [{"field": "", "message": "only an optional reason is accepted"}]
            )
        reason = body.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
            raise validation_problem([{"field": "reason", "message": "must be a string (≤ 500)"}])
    try:
        await cancel_dispatch(ctx, dispatch_id, actor=who.actor, reason=reason)
    except NotCancellable as exc:
        raise Problem(
            409, "not-cancellable", "The dispatch can no longer be cancelled", f"it is {exc.state}"
        ) from None
    return json_response(await _detail(request, dispatch_id))


async def reissue_link(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    who = dispatch_caller(request)
    dispatch_id = path_id(request, "dispatch_id", "dispatch")
    attempt_id = path_id(request, "attempt_id", "attempt")
    await _load(request, dispatch_id)  # 404 unless the caller may see it
    try:
        attempt = await link_reissue.reissue_link(ctx, dispatch_id, attempt_id, actor=who.actor)
    except KeyError:
        raise not_found("attempt") from None
    except link_reissue.NotReissuable as exc:
        raise Problem(409, "not-reissuable", "The link cannot be re-issued", str(exc)) from None
    return json_response(attempt_view(attempt), status=202)


async def _action_body(request: web.Request) -> tuple[dict[str, Any], EvidenceFile | None]:
    """The action as JSON, or as multipart/form-data with its file (record_outcome's scan,
    CPL-87: see delivery/api/staff/action_forms.py); a refused file is a 422 naming ``scan``."""
    if not request.content_type.startswith("multipart/"):
        return await read_json(request), None
    try:
        fields, scan = await read_action_form(request, ctx_of(request), csrf=False)
    except signed_proof.ProofRefused as exc:
        raise validation_problem([{"field": exc.field, "message": str(exc.reason)}]) from None
    except UploadRejected as exc:
        raise refused_body(exc) from None
    return dict(fields), scan


async def act(request: web.Request) -> web.Response:
    """``POST /api/v1/dispatches/{id}/actions``: a clerk's action, with a required note."""
    ctx = ctx_of(request)
    who = dispatch_caller(request)
    dispatch_id = path_id(request, "dispatch_id", "dispatch")
    await _load(request, dispatch_id)  # 404 unless the caller may see it
    body, scan = await _action_body(request)
    details = {k: v for k, v in body.items() if k not in ("action", "note")}
    requester = clerk_requests.Requester(who.actor, who.staff)
    try:
        await clerk_requests.submit(
            ctx, dispatch_id, requester, body.get("action"), body.get("note"), details, scan
        )
    except clerk_requests.InvalidRequest as exc:
        raise validation_problem(
            [{"field": e.field, "message": e.message} for e in exc.errors]
        ) from None
    except clerk_requests.ApproverRequired:
        raise Problem(
            403,
            "role-required",
            "Only a supervisor may approve a public notice",
            N_("log in with an account that has the supervisor role"),
        ) from None
    except clerk_actions.ActionRefused as exc:
        if exc.conflict:
            raise Problem(409, "action-not-allowed", "Not allowed now", exc.reason) from None
        raise validation_problem([{"field": exc.field, "message": str(exc.reason)}]) from None
    return json_response(await _detail(request, dispatch_id))
