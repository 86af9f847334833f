"""Public notice pages for staff: ``/staff/notices`` (drafts awaiting approval) and
``/staff/notices/{id}`` (edit the draft, approve it — supervisors only —, record further
publications).

The forms post as a browser does and go through the same clerk actions as
``POST /api/v1/dispatches/{id}/actions``. The approve form carries the SHA-256 of the text it
shows (``text_sha256``), so an edit made meanwhile is refused (409) rather than approved unseen.
The publication form is ``multipart/form-data`` with an optional photo or video (``media``;
required for a posting at the residence, CPL-INT-138), checked as the field server's evidence
and recorded in the same transaction as the publication.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import BodyPartReader, web
from multidict import MultiDictProxy

from channels.public_notice import board, notices
from channels.public_notice.pages import (
    ID,
    day_of,
    locale_of,
    minute_of,
    place_choices,
    shown_publications,
)
from delivery.api.http.bodies import read_form, skip_part
from delivery.api.http.evidence_uploads import store_evidence
from delivery.api.http.request_context import ctx_of
from delivery.api.staff.auth import (
    CSRF_FIELD,
    check_csrf,
    in_locale,
    require_staff,
    workspace_page,
)
from delivery.api.staff.workspace_forms import multipart_form
from delivery.context import Context
from delivery.infra.document_store import EvidenceFile, UploadRejected
from delivery.representations import notice_text_sha256
from delivery.services import clerk_actions
from delivery.staff import Role
from templates.i18n import translate
from templates.notices import blank_segments
from templates.texts import Text

MAX_FIELD_BYTES = 4 * notices.MAX_BODY  # the longest field, the body, in UTF-8
STAFF_ROLES = (Role.CLERK, Role.SUPERVISOR)
ACTIVE = "notices"  # the navigation's entry (templates/pages/staff_base.html)


async def staff_board(request: web.Request) -> web.Response:
    """``GET /staff/notices``: drafts awaiting review and approval in the account's courts."""
    ctx = ctx_of(request)
    user = require_staff(request, *STAFF_ROLES)
    items = await board.drafts(ctx, user.courts)
    return workspace_page(
        request, "staff_notices.html", user, ACTIVE, locale=locale_of(request), items=items
    )


async def _staff_view(
    request: web.Request, *, error: str | Text | None = None, status: int = 200
) -> web.Response:
    ctx = ctx_of(request)
    user = require_staff(request, *STAFF_ROLES)
    locale = locale_of(request)
    found = await board.notice_for_review(ctx, request.match_info["notice_id"], user)
    if found is None:
        raise web.HTTPNotFound(text="404: no such notice")
    notice, detail, publications = found.notice, found.detail, found.publications
    grounds = notice["reason"] or {}
    methods = grounds.get("methods_tried") or notices.methods_tried(detail.attempts)
    title, body = blank_segments(notice["title"]), blank_segments(notice["body"])
    return workspace_page(
        request,
        "staff_notice.html",
        user,
        ACTIVE,
        status=status,
        locale=locale,
        notice=notice,
        title_parts=title,
        body_parts=body,
        blanks=sum(blank for part in (title, body) for _text, blank in part),
        methods=[
            {**m, "tried_at": minute_of(ctx, datetime.fromisoformat(m["tried_at"]))}
            for m in methods
        ],
        can_approve=notices.may_approve(user),
        text_sha256=notice_text_sha256(notice["title"], notice["body"]),
        can_publish=detail.dispatch.state.value == "notice_pending",
        publications=shown_publications(ctx, publications, locale),
        deemed_on=day_of(ctx, notice["deemed_served_at"]),
        places=place_choices(locale),
        max_media_mb=max(1, ctx.settings.max_media_bytes // (1024 * 1024)),
        error=error,
    )


async def staff_notice(request: web.Request) -> web.Response:
    """``GET /staff/notices/{id}``: review, edit, approve, record publications."""
    return await _staff_view(request)


def _field(form: MultiDictProxy[Any], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


async def _multipart_form(
    request: web.Request, ctx: Context, *, media: bool
) -> tuple[dict[str, str], EvidenceFile | None]:
    """A form as a browser sends it with a file (the publication form): the CSRF token first
    (nothing after it is read without it: 403), text fields, and — where ``media`` — at most
    one ``media`` photo or video, streamed to the store and checked as the field server's
    evidence. UploadRejected (its reason names the field) for a refused file or a long field."""
    evidence: list[EvidenceFile] = []

    async def on_file(part: BodyPartReader) -> None:
        if part.name != "media" or not media:
            await skip_part(part)
            return
        if evidence:
            raise UploadRejected("media: send one photo or video")
        try:
            evidence.append(EvidenceFile(*await store_evidence(ctx, part)))
        except UploadRejected as exc:
            raise UploadRejected(f"media: {exc.reason}", exc.status) from None

    fields = await multipart_form(request, on_file, MAX_FIELD_BYTES)
    return dict(fields), evidence[0] if evidence else None


async def _act(
    request: web.Request,
    action: str,
    details: dict[str, Any],
    *roles: Role,
    media: bool = False,
) -> web.Response:
    """Check role and CSRF, run the clerk action, go back to the page (or show why not)."""
    ctx = ctx_of(request)
    user = require_staff(request, *(roles or STAFF_ROLES))
    notice = await board.visible_notice(ctx, request.match_info["notice_id"], user)
    if notice is None:
        raise web.HTTPNotFound(text="404: no such notice")  # before the body is read
    evidence = None
    try:
        if request.content_type.startswith("multipart/"):
            form, evidence = await _multipart_form(request, ctx, media=media)
        else:
            posted = await read_form(request)
            await check_csrf(request, _field(posted, CSRF_FIELD))
            form = {k: v for k in posted if (v := _field(posted, k)) is not None}
    except UploadRejected as exc:
        return await _staff_view(request, error=exc.reason, status=exc.status)
    note = (form.get("note") or "").strip()
    if not note or len(note) > 2000:
        wanted = translate(locale_of(request), "A note is required (at most 2000 characters).")
        return await _staff_view(request, error=wanted, status=422)
    values = {
        name: value
        for name in details
        if (value := form.get(name)) is not None and value.strip() != ""
    }
    try:
        await clerk_actions.perform(
            ctx,
            notice["dispatch_id"],
            clerk_actions.ActionRequest(
                action, note, {**values, **_converted(ctx, values)}, evidence=evidence
            ),
            actor=user.actor,
        )
    except clerk_actions.ActionRefused as exc:
        return await _staff_view(request, error=exc.reason, status=409 if exc.conflict else 422)
    path = f"/staff/notices/{notice['id']}"
    raise web.HTTPSeeOther(in_locale(request, path, locale_of(request)))


def _converted(ctx: Context, values: dict[str, str]) -> dict[str, str]:
    """A ``datetime-local`` field is court time without an offset: give it the zone's."""
    raw = values.get("published_at")
    if raw is None:
        return {}
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        return {}
    if local.tzinfo is None:
        local = local.replace(tzinfo=ctx.settings.zone)
    return {"published_at": local.isoformat()}


async def edit(request: web.Request) -> web.Response:
    return await _act(request, "edit_notice", {"title": None, "body": None})


async def approve(request: web.Request) -> web.Response:
    return await _act(
        request, "approve_notice", {"reason": None, "text_sha256": None}, notices.APPROVER
    )


async def publish(request: web.Request) -> web.Response:
    return await _act(
        request,
        "record_publication",
        {"place": None, "published_at": None, "detail": None},
        media=True,
    )


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/staff/notices", staff_board)
    r.add_get(f"/staff/notices/{ID}", staff_notice)
    r.add_post(f"/staff/notices/{ID}/edit", edit)
    r.add_post(f"/staff/notices/{ID}/approve", approve)
    r.add_post(f"/staff/notices/{ID}/publications", publish)
