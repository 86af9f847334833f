"""The dispatch page: ``GET /staff/dispatches/{id}``, its action forms' ``POST …/actions``,
the reveal of one contact ``POST …/contacts/{contact_id}/reveal`` and the staff download of its
documents ``GET …/documents/{document_id}``.

The page shows the recipient with identity and contacts masked (``mask_address``, the last 4
of the identity number only; the owning clerk or a supervisor may reveal one contact in full for
one response, recorded in the audit the page lists, ``contact_reveals``), the documents, the
policy's ladder with the step under way, every attempt with its receipts, the whole event
timeline and the proof once served; and each action the dispatch's state allows
(``clerk_actions.allowed_actions``) as a button that opens its form (``<details>``: no script),
each asking for confirmation and a note. The forms go through ``clerk_requests.submit`` — the
same checks and the same ``clerk_actions.perform`` as ``POST /api/v1/dispatches/{id}/actions`` —
then back to the page (303) with what was done, or the page again with why not (409/422),
nothing changed.

Clerks and supervisors only (a field server gets 403); another court's dispatch is 404.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from delivery.api.case_system.dispatch_request import CONSENT_BASES
from delivery.api.http.bodies import read_form
from delivery.api.http.request_context import ctx_of, path_id
from delivery.api.staff.action_forms import read_action_form
from delivery.api.staff.auth import (
    CSRF_FIELD,
    check_csrf,
    page_locale,
    require_staff,
    workspace_page,
)
from delivery.context import Context
from delivery.domain import Event
from delivery.identity import mask_address
from delivery.infra.document_store import EvidenceFile, UploadRejected
from delivery.services import (
    certificates,
    clerk_actions,
    clerk_requests,
    contact_repair,
    contact_reveals,
    signed_proof,
)
from delivery.services.dispatch_view import DispatchView, dispatch_view, in_scope
from delivery.staff import Role, StaffUser
from delivery.storage.dispatches import load_documents
from delivery.vocabulary import (
    CHANNEL_CONTACTS,
    Channel,
    ContactKind,
    ContactSource,
    EventType,
    SmsKind,
)
from escalation.consent import may_serve_on
from escalation.contact_repair import earliest_activity
from templates.labels import has_label
from templates.texts import Text

PAGE_ROLES = (Role.CLERK, Role.SUPERVISOR)
ID = "{dispatch_id:[0-9A-HJKMNP-TV-Z]{26}}"
MAX_FIELD = 2000
# The form fields each action sends as its details (besides ``action`` and ``note``).
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "escalate": (),
    "skip_step": ("step",),
    "retry_channel": ("channel",),
    "record_outcome": ("attempt_id", "outcome", "written_date"),
    "add_contact": ("kind", "value", "postcode", "source"),
    "repair_contact": contact_repair.DETAILS,
    "record_consent": ("basis",),
    "change_policy": ("policy",),
    "record_rebuttal": ("reason",),
    "cancel": (),
    "reassign_owner": ("owner_id",),
    "request_address_confirmation": (),
}
INTEGER_FIELDS = frozenset({"step"})
# A refused form comes back with what the clerk typed (not the files).
KEPT = ("action", "note", "written_date", *contact_repair.DETAILS[1:-1])
# Shown as links to the pages that do them (the notice's review page, the field tasks).
LINKED_ACTIONS = frozenset({*clerk_actions.NOTICE_ACTIONS, "assign_field_server"})
# Details whose values a timeline line may show (never addresses, codes or identity numbers).
SHOWN_DETAILS = (
    "step",
    "name",
    "channel",
    "reason",
    "basis",
    "policy",
    "previous",
    "legal_basis",
    "written_date",
    "tsa",
    "place",
    "repair",
)


def _reply_details(event: Event) -> list[tuple[str, Any]]:
    """What a reply's line says beyond its label: whether it could serve (an automatic reply,
    one from another address or an SMS answering a code or a confirmation request never does,
    docs/decisions/0042), and what the recipient wrote."""
    if event.type != EventType.REPLY_RECEIVED:
        return []
    answers = event.data.get("answers", SmsKind.SERVICE)
    if event.data.get("automatic"):
        kind = "automatic"
    elif not event.data.get("from_recipient"):
        kind = "other_sender"
    else:
        kind = "recipient" if answers == SmsKind.SERVICE else str(answers)
    said = event.data.get("body") or event.data.get("subject")
    return [("reply", kind), *([("said", str(said))] if said else [])]


def _page_url(dispatch_id: str, locale: str, path: str = "", **params: str) -> str:
    """The dispatch page's URL (``path``: below it), keeping the page's language."""
    query = {**params, **({"lang": "en"} if locale == "en" else {})}
    return f"/staff/dispatches/{dispatch_id}{path}" + (f"?{urlencode(query)}" if query else "")


def _who(event: Event, names: dict[str, str]) -> str | None:
    """The actor by name (staff account, API key); ``None`` for the system itself."""
    if event.actor is None:
        return None
    return names.get(event.actor, event.actor)


def _places(receipts: list[Event]) -> list[str]:
    """Where a public notice was published (its ``notice_published`` events), each once: what
    a public-notice attempt shows instead of an address — it has none (it serves the public)."""
    found = [e.data.get("place") for e in receipts if e.type == EventType.NOTICE_PUBLISHED]
    return list(dict.fromkeys(str(p) for p in found if p))


def _source(event: Event, channels: dict[str, str]) -> str:
    """The event's source as the page names it: a carrier reports under its own configured
    name (``court-express``), which no label knows — its attempt's channel says what it is."""
    if has_label("source", event.source) or event.attempt_id not in channels:
        return event.source
    return channels[event.attempt_id]


def _context(view: DispatchView, user: StaffUser, revealed: str | None) -> dict[str, Any]:
    """What the template reads; ``revealed``: the one contact shown in full in this response
    (its reveal was just recorded), every other contact masked."""
    detail = view.detail
    d = detail.dispatch
    receipts: dict[str, list[Event]] = defaultdict(list)
    for event in detail.events:
        if event.attempt_id is not None:
            receipts[event.attempt_id].append(event)
    allowed = clerk_actions.allowed_actions(d)
    current = d.step_index
    contact_kinds = {c.kind for c in d.contacts}
    masked = {c.id: mask_address(c.kind.value, c.value) for c in d.contacts}
    channels = {a.id: a.channel for a in detail.attempts}
    sources = {e.seq: _source(e, channels) for e in detail.events}
    full = {c.id: c.value for c in d.contacts if c.id == revealed}
    return {
        "dispatch": d,
        "id_masked": "*" * 14 + d.id_last4,
        "contacts": [
            {
                "id": c.id,
                "kind": c.kind.value,
                "value": full.get(c.id, masked[c.id]),
                "revealed": c.id in full,
                "source": c.source.value,
                "confirmation": detail.confirmations.get(c.confirmation_id or ""),
            }
            for c in d.contacts
        ],
        "may_reveal": contact_reveals.may_reveal(user, d.owner_id),
        "reveals": [{"reveal": r, "contact": masked.get(r.contact_id, "")} for r in view.reveals],
        "documents": detail.documents,
        "steps": list(enumerate(view.policy.steps)),
        "current_step": current if d.is_open else None,
        "attempts": [
            {
                "attempt": a,
                "address": None
                if a.channel == Channel.PUBLIC_NOTICE
                else full.get(a.contact_id or "", mask_address(a.channel, a.address)),
                "revealed": a.contact_id in full,
                "places": _places(receipts.get(a.id, [])),
                "receipts": receipts.get(a.id, []),
            }
            for a in detail.attempts
        ],
        "timeline": [
            {
                "event": e,
                "who": _who(e, view.names),
                "note": e.data.get("note"),
                "details": [(k, e.data[k]) for k in SHOWN_DETAILS if k in e.data]
                + _reply_details(e),
            }
            for e in detail.events
        ],
        "names": view.names,
        "sources": sources,
        "roles": view.roles,
        "owner_name": view.owner_name,
        "at_risk": view.at_risk,
        "certificate_blocked": certificates.standing_block(detail.events),
        "receipt_contradicted": view.receipt_contradicted,
        "notice": detail.notice,
        "forms": [a for a in allowed if a in ACTION_FIELDS],
        "links": [a for a in allowed if a in LINKED_ACTIONS],
        "may_approve": user.has(Role.SUPERVISOR),
        "later_steps": []
        if current is None
        else [(i, s.name) for i, s in enumerate(view.policy.steps) if i > current],
        "retry_channels": [
            ch
            for ch, kind in CHANNEL_CONTACTS.items()
            if kind in contact_kinds and may_serve_on(ch, consent_given=d.consent_given)
        ],
        "other_policies": sorted(view.other_policies),
        "rebuttals": sorted(clerk_actions.REBUTTALS),
        "outcomes": sorted(clerk_actions.OUTCOMES),
        "clerks": view.clerks,
        "contact_kinds": [k.value for k in ContactKind],
        "repair_kinds": [k.value for k in contact_repair.KINDS],
        "contact_sources": [s.value for s in ContactSource],
        "consent_bases": CONSENT_BASES,
    }


async def _render(
    request: web.Request,
    user: StaffUser,
    dispatch_id: str,
    *,
    error: str | Text | None = None,
    error_field: str | None = None,
    posted: dict[str, str] | None = None,
    revealed: str | None = None,
    status: int = 200,
) -> web.Response:
    """The page; after a refused action, ``error`` says why (``error_field``: the form field
    it is about, marked invalid on the form) and ``posted`` (the action and its note) fills
    that action's form again, so the clerk's note is not lost. ``revealed``: the contact shown
    in full (its reveal recorded)."""
    ctx = ctx_of(request)
    view = await dispatch_view(ctx, dispatch_id, user.courts)
    if view is None:
        raise web.HTTPNotFound(text="404: no such dispatch")
    locale = page_locale(request)
    done = request.query.get("done")
    zone = ctx.settings.zone
    today = ctx.clock.now().astimezone(zone).date()
    # The written date of a signed proof (CPL-87) lies between these, both included; a repaired
    # contact's last activity between ICP-16's earliest day and today.
    proof_dates = (
        view.detail.dispatch.created_at.astimezone(zone).date().isoformat(),
        today.isoformat(),
    )
    return workspace_page(
        request,
        "dispatch.html",
        user,
        "queue",
        status=status,
        locale=locale,
        error=error,
        error_field=error_field,
        posted=posted or {},
        done=done if done in ACTION_FIELDS else None,
        action_url=_page_url(dispatch_id, locale, "/actions"),
        proof_dates=proof_dates,
        repair_dates=(earliest_activity(today).isoformat(), today.isoformat()),
        **_context(view, user, revealed),
    )


async def page(request: web.Request) -> web.Response:
    """``GET /staff/dispatches/{id}``."""
    user = require_staff(request, *PAGE_ROLES)
    return await _render(request, user, path_id(request, "dispatch_id", "dispatch"))


def _details(action: str, form: dict[str, str]) -> dict[str, Any]:
    """The action's details from its form: blank fields left out, numbers as numbers (a value
    that is not one is passed on as text, for the action to refuse with its reason)."""
    details: dict[str, Any] = {}
    for name in ACTION_FIELDS.get(action, ()):
        value = form.get(name, "").strip()
        if value:
            # isdecimal, not isdigit: "²" is a digit that int() refuses.
            details[name] = int(value) if name in INTEGER_FIELDS and value.isdecimal() else value
    return details


async def _form(request: web.Request, ctx: Context) -> tuple[dict[str, str], EvidenceFile | None]:
    """The posted form (CSRF checked) and its file: record_outcome's form is multipart with
    the scan of the signed proof (delivery/api/staff/action_forms.py), the others are urlencoded."""
    if request.content_type.startswith("multipart/"):
        fields, scan = await read_action_form(request, ctx, csrf=True)
        # A carrier's CSV (``rows``) is bounded by its reader, not cut to a field's length.
        return {
            k: v if k == contact_repair.ROWS_FIELD else v[:MAX_FIELD] for k, v in fields.items()
        }, scan
    posted = await read_form(request)
    form = {k: v[:MAX_FIELD] for k in posted if isinstance(v := posted.get(k), str)}
    await check_csrf(request, form.get(CSRF_FIELD))
    return form, None


async def act(request: web.Request) -> web.Response:
    """``POST /staff/dispatches/{id}/actions``: one action form, as the browser sends it."""
    ctx = ctx_of(request)
    user = require_staff(request, *PAGE_ROLES)
    dispatch_id = path_id(request, "dispatch_id", "dispatch")
    if not await in_scope(ctx, dispatch_id, user.courts):
        raise web.HTTPNotFound(text="404: no such dispatch")  # before the body is read
    try:
        form, scan = await _form(request, ctx)
    except signed_proof.ProofRefused as exc:
        return await _render(
            request, user, dispatch_id, error=exc.reason, error_field=exc.field, status=422
        )
    except UploadRejected as exc:
        return await _render(request, user, dispatch_id, error=exc.reason, status=exc.status)
    action = form.get("action", "")
    who = clerk_requests.Requester(user.actor, user)
    again = {k: form.get(k, "") for k in KEPT}
    try:
        await clerk_requests.submit(
            ctx, dispatch_id, who, action, form.get("note"), _details(action, form), scan
        )
    except clerk_requests.InvalidRequest as exc:
        return await _render(request, user, dispatch_id, error=str(exc), posted=again, status=422)
    except clerk_requests.ApproverRequired:
        raise web.HTTPForbidden(text="403: only a supervisor approves a public notice") from None
    except clerk_actions.ActionRefused as exc:
        status = 409 if exc.conflict else 422
        return await _render(
            request,
            user,
            dispatch_id,
            error=exc.reason,
            error_field=exc.field or None,
            posted=again,
            status=status,
        )
    raise web.HTTPSeeOther(_page_url(dispatch_id, page_locale(request), done=action))


async def reveal(request: web.Request) -> web.Response:
    """``POST /staff/dispatches/{id}/contacts/{contact_id}/reveal``: the page again, with that
    contact in full in this response only. A POST with the session's CSRF token, never a GET: a
    link prefetched or followed by a crawler must not read personal data nor fill the audit."""
    ctx = ctx_of(request)
    user = require_staff(request, *PAGE_ROLES)
    dispatch_id = path_id(request, "dispatch_id", "dispatch")
    contact_id = path_id(request, "contact_id", "contact")
    posted = await read_form(request)
    token = posted.get(CSRF_FIELD)
    await check_csrf(request, token if isinstance(token, str) else None)
    try:
        await contact_reveals.reveal(ctx, user, dispatch_id, contact_id)
    except contact_reveals.RevealRefused as exc:
        if not exc.found:
            raise web.HTTPNotFound(text=f"404: {exc}") from None
        raise web.HTTPForbidden(text=f"403: {exc}") from None
    return await _render(request, user, dispatch_id, revealed=contact_id)


async def document(request: web.Request) -> web.StreamResponse:
    """``GET /staff/dispatches/{id}/documents/{document_id}``: a document of the dispatch,
    streamed from the store."""
    ctx = ctx_of(request)
    user = require_staff(request, *PAGE_ROLES)
    dispatch_id = path_id(request, "dispatch_id", "dispatch")
    document_id = path_id(request, "document_id", "document")
    if not await in_scope(ctx, dispatch_id, user.courts):
        raise web.HTTPNotFound(text="404: no such dispatch")
    async with ctx.engine.connect() as conn:
        found = [d for d in await load_documents(conn, dispatch_id) if d.id == document_id]
    if not found:
        raise web.HTTPNotFound(text="404: no such document of this dispatch")
    return web.FileResponse(
        ctx.documents.path_for(found[0].sha256),
        headers={
            "Content-Type": found[0].media_type,
            "Content-Disposition": f'attachment; filename="{found[0].id}.pdf"',
            "Cache-Control": "no-store",
        },
    )


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"/staff/dispatches/{ID}", page)
    r.add_post(f"/staff/dispatches/{ID}/actions", act)
    r.add_post(f"/staff/dispatches/{ID}/contacts/{{contact_id}}/reveal", reveal)
    r.add_get(f"/staff/dispatches/{ID}/documents/{{document_id}}", document)
