"""The clerk's queue page, ``GET /staff/queue`` (and the routes of the dispatch page).

Filters are GET parameters, so a filtered queue is a link a clerk can keep or send: ``state``,
``channel`` (an open attempt on it), ``court``, ``owner`` (a staff account id), ``case_number``
(exact), ``recipient`` (the start of the name), ``created_from``/``created_to`` and
``served_from``/``served_to`` (days ``YYYY-MM-DD`` in the court's zone, both ends included),
``cursor`` (the next page) and ``limit``. A bad value shows the form again with the reason.
``view`` is ``needs_action`` (only the dispatches that need a person) or ``all``; without it the
queue opens on ``needs_action`` when no filter is given — what a clerk comes to the queue for —
and shows everything the filter finds otherwise (decision 0036).
Clerks and supervisors only; a field server gets 403.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from delivery.api.http.request_context import ctx_of
from delivery.api.staff import bulk_page, dispatch_page
from delivery.api.staff.auth import page_locale, require_staff, workspace_page
from delivery.clock import parse_day
from delivery.cursors import decode_cursor, encode_cursor
from delivery.ids import looks_like_id
from delivery.services import clerk_queue as queue
from delivery.services.dispatch_view import clerks_of
from delivery.staff import Role

PAGE_ROLES = (Role.CLERK, Role.SUPERVISOR)
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_TEXT = 200
TEXT_PARAMETERS = ("case_number", "recipient")
DATE_PARAMETERS = ("created_from", "created_to", "served_from", "served_to")
FILTER_PARAMETERS = ("state", "channel", "court", "owner", *TEXT_PARAMETERS, *DATE_PARAMETERS)
NEEDS_ACTION, ALL = "needs_action", "all"
VIEWS = (NEEDS_ACTION, ALL)


def _parse(
    query: dict[str, str], courts: tuple[str, ...]
) -> tuple[queue.QueueFilter, dict[str, str]]:
    """The filter the parameters ask for, and what is wrong with them (parameter → reason)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    choices = {"state": queue.STATES, "channel": queue.CHANNELS, "court": courts}
    for name, allowed in choices.items():
        if query.get(name):
            if query[name] in allowed:
                values[name] = query[name]
            else:
                errors[name] = "unknown"
    if query.get("owner"):
        if looks_like_id(query["owner"]):
            values["owner_id"] = query["owner"]
        else:
            errors["owner"] = "unknown"
    for name in TEXT_PARAMETERS:
        text = query.get(name, "").strip()
        if len(text) > MAX_TEXT:
            errors[name] = "too_long"
        elif text:
            values[name] = text
    for name in DATE_PARAMETERS:
        if query.get(name):
            values[name] = parse_day(query[name])
            if values[name] is None:
                errors[name] = "date"
    if query.get("cursor"):
        values["before_id"] = decode_cursor(query["cursor"])
        if values["before_id"] is None:
            errors["cursor"] = "unknown"
    view = query.get("view") or (
        ALL if any(query.get(n) for n in FILTER_PARAMETERS) else NEEDS_ACTION
    )
    if view not in VIEWS:
        errors["view"] = "unknown"
    values["needs_action"] = view == NEEDS_ACTION
    try:
        values["limit"] = int(query.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        values["limit"] = 0
    if not 1 <= values["limit"] <= MAX_LIMIT:
        errors["limit"] = "limit"
        values["limit"] = DEFAULT_LIMIT
    return queue.QueueFilter(courts=courts, **values), errors


def _url(params: dict[str, str], **changes: str | None) -> str:
    merged = {k: v for k, v in {**params, **changes}.items() if v}
    return "/staff/queue" + ("?" + urlencode(merged) if merged else "")


async def queue_page(request: web.Request) -> web.Response:
    """``GET /staff/queue``: the filter form, counts per state, the page of dispatches."""
    ctx = ctx_of(request)
    user = require_staff(request, *PAGE_ROLES)
    locale = page_locale(request)
    query = {
        k: request.query[k]
        for k in (*FILTER_PARAMETERS, "view", "cursor", "limit", "lang")
        if k in request.query
    }
    flt, errors = _parse(query, user.courts)
    page = queue.empty_page()
    if not errors:
        page = await queue.queue_page(ctx, flt)
    async with ctx.engine.connect() as conn:
        clerks = await clerks_of(conn, user.courts)
    # Links keep the filter (and the language) but start again from the first page.
    params = {k: v for k, v in query.items() if k not in ("cursor",) and v}
    return workspace_page(
        request,
        "queue.html",
        user,
        "queue",
        status=400 if errors else 200,
        locale=locale,
        query=query,
        errors=errors,
        rows=page.rows,
        # A state's link shows all of that state; "needs action" is counted without the state.
        counts=[
            (
                s,
                page.counts.counts.get(s, 0),
                s in page.counts.over_cap,
                _url(params, state=s, view=None),
            )
            for s in queue.STATES
        ],
        total=page.counts.total,
        total_more=bool(page.counts.over_cap),
        count_cap=page.counts.cap,
        all_url=_url(params, state=None, view=ALL),
        needs_action=flt.needs_action,
        needs_action_count=page.needs_action,
        needs_action_more=page.needs_action_more,
        needs_action_url=_url(params, state=None, view=NEEDS_ACTION),
        back_url=_url(params),  # where the bulk actions' summary leads back to
        views=VIEWS,
        next_url=None
        if page.next_cursor_id is None
        else _url(params, cursor=encode_cursor(page.next_cursor_id)),
        states=queue.STATES,
        channels=queue.CHANNELS,
        courts=user.courts,
        clerks=clerks,
        # The language switch keeps the filter and the page.
        other_lang_url=_url(
            {k: v for k, v in query.items() if v}, lang="zh-CN" if locale == "en" else "en"
        ),
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/staff/queue", queue_page)
    bulk_page.add_routes(app)
    dispatch_page.add_routes(app)
