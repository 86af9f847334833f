"""Public notice pages: the public board and the staff review/approval pages.

Public (no login): ``/notices`` lists published notices (never drafts), searchable by court,
case number and recipient name; ``/notices/{id}`` shows one with its publications and deemed
date; ``/notices/{id}.pdf`` prints it. They show only what the notice text holds: no identity
numbers, phones or addresses.

Staff: ``/staff/notices`` (drafts awaiting approval), ``/staff/notices/{id}`` (edit the draft,
approve it — supervisors only —, record further publications). The forms post as a browser
does and go through the same clerk actions as ``POST /api/v1/dispatches/{id}/actions``. The
approve form carries the SHA-256 of the text it shows (``text_sha256``), so an edit made
meanwhile is refused (409) rather than approved unseen. The publication form is
``multipart/form-data`` with an optional photo or video (``media``; required for a posting at
the residence, CPL-INT-138), checked as the field server's evidence and recorded in the same
transaction as the publication.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from aiohttp import BodyPartReader, web
from multidict import MultiDictProxy

from channels.public_notice import board as notice_board
from channels.public_notice import notices
from delivery.api.http.bodies import read_form, skip_part
from delivery.api.http.evidence_uploads import store_evidence
from delivery.api.http.handlers import PUBLIC_PDFS, ctx_of
from delivery.api.staff.auth import CSRF_FIELD, check_csrf, csrf_token, require_staff, staff_page
from delivery.api.staff.workspace_forms import multipart_form
from delivery.context import Context
from delivery.cursors import decode_cursor, encode_cursor
from delivery.infra.document_store import UploadRejected
from delivery.infra.public_pdfs import render_key
from delivery.representations import notice_text_sha256
from delivery.services import clerk_actions
from delivery.staff import Role
from delivery.storage import queries
from delivery.storage.engine import READ_ONLY
from delivery.storage.schema import dispatches
from templates import locale_or_default, render
from templates.notices import has_blanks
from templates.pdf import qr_data_uri

ID = "{notice_id:[0-9A-HJKMNP-TV-Z]{26}}"
PAGE = 20
MAX_QUERY = 200
MAX_FIELD_BYTES = 4 * notices.MAX_BODY  # the longest field, the body, in UTF-8
PLACE_NAMES = {
    "zh-CN": {
        "court_website": "法院网站公告栏",
        "court_notice_board": "法院公告栏",
        "residence": "受送达人住所地张贴",
        "newspaper": "报纸",
    },
    "en": {
        "court_website": "court website",
        "court_notice_board": "court notice board",
        "residence": "posted at the residence",
        "newspaper": "newspaper",
    },
}
STATE_NAMES = {
    "zh-CN": {"draft": "草稿，待审核", "published": "已发布"},
    "en": {"draft": "draft, awaiting approval", "published": "published"},
}
STAFF_ROLES = (Role.CLERK, Role.SUPERVISOR)
PUBLIC_CACHE = "public, max-age=60"


def _locale(request: web.Request) -> str:
    return locale_or_default(request.query.get("lang") or ctx_of(request).settings.default_locale)


def _day(ctx: Context, value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(ctx.settings.zone).date().isoformat()


def _minute(ctx: Context, value: datetime) -> str:
    return value.astimezone(ctx.settings.zone).strftime("%Y-%m-%d %H:%M")


def _period_days(ctx: Context, dispatch: Any) -> int:
    policy = ctx.policies.get(dispatch.policy, dispatch.court)
    period = policy.notice_period if dispatch.domicile_in_china else policy.notice_period_abroad
    return period.days


async def _publications(
    ctx: Context, conn: Any, notice_id: str, locale: str
) -> list[dict[str, Any]]:
    return [
        {
            "place": PLACE_NAMES[locale].get(p["place"], p["place"]),
            "detail": p["detail"],
            "published_at": _minute(ctx, p["published_at"]),
            "media_sha256": p["media_sha256"],
        }
        for p in await notice_board.publications(conn, notice_id)
    ]


# --- The public board ---


def _search(request: web.Request) -> dict[str, str]:
    return {
        name: request.query.get(name, "").strip()[:MAX_QUERY]
        for name in ("court", "case_number", "name")
    }


async def board(request: web.Request) -> web.Response:
    """``GET /notices``: current and past notices, newest first."""
    ctx = ctx_of(request)
    locale = _locale(request)
    query = _search(request)
    flt = notice_board.BoardFilter(
        court=query["court"] or None,
        case_number=query["case_number"] or None,
        recipient_name=query["name"] or None,
        before_id=decode_cursor(request.query.get("cursor") or ""),
        limit=PAGE + 1,
    )
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        found = await notice_board.board(conn, flt)
    now = ctx.clock.now()
    items = [
        {
            "id": n["id"],
            "court": n["court"],
            "case_number": n["case_number"],
            "recipient_name": n["recipient_name"],
            "last_published_on": _day(ctx, n["last_published_at"]),
            "deemed_on": _day(ctx, n["deemed_served_at"]),
            "current": n["deemed_served_at"] is None or n["deemed_served_at"] > now,
            "withdrawn": notice_board.withdrawn(n),
        }
        for n in found[:PAGE]
    ]
    params = {k: v for k, v in query.items() if v}
    if locale == "en":
        params["lang"] = "en"
    next_url = None
    if len(found) > PAGE:
        cursor = encode_cursor(found[PAGE - 1]["id"])
        next_url = "/notices?" + urlencode({**params, "cursor": cursor})
    other = {k: v for k, v in params.items() if k != "lang"}
    if locale != "en":
        other["lang"] = "en"
    return _public(
        staff_page(
            "notice_board.html",
            locale=locale,
            items=items,
            query=query,
            next_url=next_url,
            other_lang_url="/notices" + ("?" + urlencode(other) if other else ""),
        )
    )


def _public(response: web.Response) -> web.Response:
    """The board is public: let it be cached briefly, unlike staff pages."""
    response.headers["Cache-Control"] = PUBLIC_CACHE
    return response


async def _published(request: web.Request) -> dict[str, Any]:
    """What the public sees of one published notice, or 404 (drafts do not exist publicly)."""
    ctx = ctx_of(request)
    locale = _locale(request)
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        notice = await notice_board.notice_by_id(conn, request.match_info["notice_id"])
        if notice is None or notice["state"] != notices.PUBLISHED:
            raise web.HTTPNotFound(text="404: no such notice")
        dispatch = (
            await conn.execute(
                sa.select(
                    dispatches.c.state,
                    dispatches.c.policy,
                    dispatches.c.court,
                    dispatches.c.domicile_in_china,
                    dispatches.c.served_by_channel,
                ).where(dispatches.c.id == notice["dispatch_id"])
            )
        ).one()
        publications = await _publications(ctx, conn, notice["id"], locale)
    return {
        "locale": locale,
        "notice": notice,
        "publications": publications,
        "last_published_on": _day(ctx, notice["last_published_at"]),
        "deemed_on": _day(ctx, notice["deemed_served_at"]),
        "period_days": _period_days(ctx, dispatch),
        "served": dispatch.state == "served" and dispatch.served_by_channel == "public_notice",
        "withdrawn": notice_board.withdrawn(notice),
    }


async def notice_page(request: web.Request) -> web.Response:
    """``GET /notices/{id}``: the notice, its publications and the deemed date."""
    return _public(staff_page("notice.html", **await _published(request)))


async def notice_pdf(request: web.Request) -> web.Response:
    """``GET /notices/{id}.pdf``: the notice to print or archive — rendered once per content
    and then served from the store, with a strong ``ETag`` (``delivery.infra.public_pdfs``)."""
    ctx = ctx_of(request)
    context = await _published(request)
    url = f"{ctx.settings.public_base_url}/notices/{context['notice']['id']}"
    fonts = ctx.settings.fonts
    html = render("pdf/notice.html", fonts=fonts, url=url, qr=qr_data_uri(url), **context)
    key = render_key(html, fonts)
    etag = f'"{key}"'
    headers = {"ETag": etag, "Cache-Control": PUBLIC_CACHE}
    if etag in _entity_tags(request.headers.get("If-None-Match", "")):
        return web.Response(status=304, headers=headers)
    return web.Response(
        body=await request.app[PUBLIC_PDFS].pdf(key, html, fonts),
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="notice-{context["notice"]["id"]}.pdf"',
            **headers,
        },
    )


def _entity_tags(header: str) -> set[str]:
    """The entity tags of an ``If-None-Match`` header (weak ones compare by their opaque tag,
    as RFC 9110 has it for this header)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


# --- Staff pages ---


async def staff_board(request: web.Request) -> web.Response:
    """``GET /staff/notices``: drafts awaiting review and approval in the account's courts."""
    ctx = ctx_of(request)
    user = require_staff(request, *STAFF_ROLES)
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        items = await notice_board.drafts(conn, user.courts)
    return staff_page(
        "staff_notices.html", locale=_locale(request), items=items, zone=ctx.settings.time_zone
    )


async def _staff_view(
    request: web.Request, *, error: str | None = None, status: int = 200
) -> web.Response:
    ctx = ctx_of(request)
    user = require_staff(request, *STAFF_ROLES)
    locale = _locale(request)
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        notice = await notice_board.notice_by_id(conn, request.match_info["notice_id"])
        if notice is None or not user.sees(notice["court"]):
            raise web.HTTPNotFound(text="404: no such notice")
        detail = await queries.dispatch_detail(conn, notice["dispatch_id"], user.courts)
        publications = await _publications(ctx, conn, notice["id"], locale)
    assert detail is not None
    grounds = notice["reason"] or {}
    methods = grounds.get("methods_tried") or notices.methods_tried(detail.attempts)
    return staff_page(
        "staff_notice.html",
        status=status,
        locale=locale,
        notice=notice,
        state_name=STATE_NAMES[locale].get(notice["state"], notice["state"]),
        has_blanks=has_blanks(notice["title"]) or has_blanks(notice["body"]),
        methods=[
            {**m, "tried_at": _minute(ctx, datetime.fromisoformat(m["tried_at"]))} for m in methods
        ],
        can_approve=notices.may_approve(user),
        text_sha256=notice_text_sha256(notice["title"], notice["body"]),
        can_publish=detail.dispatch.state.value == "notice_pending",
        publications=publications,
        deemed_on=_day(ctx, notice["deemed_served_at"]),
        places=list(PLACE_NAMES[locale].items()),
        max_media_mb=max(1, ctx.settings.max_media_bytes // (1024 * 1024)),
        csrf_token=csrf_token(request),
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
) -> tuple[dict[str, str], notices.EvidenceFile | None]:
    """A form as a browser sends it with a file (the publication form): the CSRF token first
    (nothing after it is read without it: 403), text fields, and — where ``media`` — at most
    one ``media`` photo or video, streamed to the store and checked as the field server's
    evidence. UploadRejected (its reason names the field) for a refused file or a long field."""
    evidence: list[notices.EvidenceFile] = []

    async def on_file(part: BodyPartReader) -> None:
        if part.name != "media" or not media:
            await skip_part(part)
            return
        if evidence:
            raise UploadRejected("media: send one photo or video")
        try:
            evidence.append(notices.EvidenceFile(*await store_evidence(ctx, part)))
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
    async with ctx.engine.connect() as conn:
        notice = await notice_board.notice_by_id(conn, request.match_info["notice_id"])
    if notice is None or not user.sees(notice["court"]):
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
        return await _staff_view(request, error="note: required (≤ 2000)", status=422)
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
    suffix = "?lang=en" if _locale(request) == "en" else ""
    raise web.HTTPSeeOther(f"/staff/notices/{notice['id']}{suffix}")


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
    r.add_get("/notices", board)
    r.add_get(f"/notices/{ID}.pdf", notice_pdf)
    r.add_get(f"/notices/{ID}", notice_page)
    r.add_get("/staff/notices", staff_board)
    r.add_get(f"/staff/notices/{ID}", staff_notice)
    r.add_post(f"/staff/notices/{ID}/edit", edit)
    r.add_post(f"/staff/notices/{ID}/approve", approve)
    r.add_post(f"/staff/notices/{ID}/publications", publish)
