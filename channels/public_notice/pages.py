"""Public notice pages: the public board (no login).

``/notices`` lists published notices (never drafts), searchable by court, case number and
recipient name; ``/notices/{id}`` shows one with its publications and deemed date;
``/notices/{id}.pdf`` prints it. They show only what the notice text holds: no identity
numbers, phones or addresses. The handlers read through ``channels.public_notice.board`` (and
the board's search, ``delivery.storage.notices``) and only turn their answers into pages; the
staff review pages are ``staff_pages``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from channels.public_notice import board as notice_board
from channels.public_notice.publications import FIRST_PLACE, PLACES
from delivery.api.http.request_context import PUBLIC_PDFS, ctx_of
from delivery.api.staff.auth import staff_page
from delivery.context import Context
from delivery.cursors import decode_cursor, encode_cursor
from delivery.infra.public_pdfs import render_key
from delivery.storage import notices as stored_notices
from delivery.storage.engine import READ_ONLY
from delivery.storage.notice_publications import PublicationRow
from templates import locale_or_default, render
from templates.labels import label
from templates.pdf import qr_data_uri

ID = "{notice_id:[0-9A-HJKMNP-TV-Z]{26}}"
PAGE = 20
MAX_QUERY = 200
PUBLIC_CACHE = "public, max-age=60"


def locale_of(request: web.Request) -> str:
    return locale_or_default(request.query.get("lang") or ctx_of(request).settings.default_locale)


def day_of(ctx: Context, value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(ctx.settings.zone).date().isoformat()


def minute_of(ctx: Context, value: datetime) -> str:
    return value.astimezone(ctx.settings.zone).strftime("%Y-%m-%d %H:%M")


def shown_publications(
    ctx: Context, rows: Sequence[PublicationRow], locale: str
) -> list[dict[str, Any]]:
    """A notice's publications as the pages show them: place names, court time."""
    return [
        {
            "place": label(locale, "notice_place", p["place"]),
            "detail": p["detail"],
            "published_at": minute_of(ctx, p["published_at"]),
            "media_sha256": p["media_sha256"],
        }
        for p in rows
    ]


def place_choices(locale: str) -> list[tuple[str, str]]:
    """The places a clerk may record a publication in, each with its name in ``locale``; the
    court's own website (where approval publishes) first, as the form has always offered it."""
    ordered = sorted(PLACES, key=lambda place: place != FIRST_PLACE)
    return [(place, label(locale, "notice_place", place)) for place in ordered]


# --- The public board ---


def _search(request: web.Request) -> dict[str, str]:
    return {
        name: request.query.get(name, "").strip()[:MAX_QUERY]
        for name in ("court", "case_number", "name")
    }


async def board(request: web.Request) -> web.Response:
    """``GET /notices``: current and past notices, newest first."""
    ctx = ctx_of(request)
    locale = locale_of(request)
    query = _search(request)
    flt = stored_notices.BoardFilter(
        court=query["court"] or None,
        case_number=query["case_number"] or None,
        recipient_name=query["name"] or None,
        before_id=decode_cursor(request.query.get("cursor") or ""),
        limit=PAGE + 1,
    )
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        found = await stored_notices.board(conn, flt)
    now = ctx.clock.now()
    items = [
        {
            "id": n["id"],
            "court": n["court"],
            "case_number": n["case_number"],
            "recipient_name": n["recipient_name"],
            "last_published_on": day_of(ctx, n["last_published_at"]),
            "deemed_on": day_of(ctx, n["deemed_served_at"]),
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
    locale = locale_of(request)
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        found = await notice_board.published_notice(
            conn, ctx.policies, request.match_info["notice_id"]
        )
    if found is None:
        raise web.HTTPNotFound(text="404: no such notice")
    notice = found.notice
    return {
        "locale": locale,
        "notice": notice,
        "publications": shown_publications(ctx, found.publications, locale),
        "last_published_on": day_of(ctx, notice["last_published_at"]),
        "deemed_on": day_of(ctx, notice["deemed_served_at"]),
        "period_days": found.period_days,
        "served": found.served,
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


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/notices", board)
    r.add_get(f"/notices/{ID}.pdf", notice_pdf)
    r.add_get(f"/notices/{ID}", notice_page)
