"""The postal print run: the day's letters to print, and marking them handed to the carrier.

- ``GET /staff/print-run?date=YYYY-MM-DD`` (default: today in the court's zone): the pieces
  created that day that are still to go (the same selection as ``GET /api/v1/mail-pieces.pdf``,
  which the page links to for printing them in one go), each with a checkbox;
- ``POST /staff/print-run/handed-over``: the checked pieces are marked handed to the carrier
  (``services.postal.hand_over``: one transaction and one event per dispatch; a second click
  changes nothing, since a handed-over piece is no longer to go).

Clerks and supervisors only; another court's pieces are never listed nor marked.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from channels.postal import pieces as postal
from delivery.api.http.bodies import read_form
from delivery.api.http.request_context import ctx_of
from delivery.api.staff.auth import (
    CSRF_FIELD,
    check_csrf,
    page_locale,
    require_staff,
    workspace_page,
)
from delivery.api.staff.workspace_forms import text_field
from delivery.clock import parse_day
from delivery.ids import looks_like_id
from delivery.staff import Role

PATH = "/staff/print-run"
ROLES = (Role.CLERK, Role.SUPERVISOR)
MAX_PIECES = 2000  # one form's checkboxes: far more than a court posts in a day


def _day(request: web.Request, raw: str | None) -> date | None:
    """The chosen day, today in the court's zone when none is given, None when malformed."""
    if not raw:
        return ctx_of(request).clock.now().astimezone(ctx_of(request).settings.zone).date()
    return parse_day(raw)


async def print_run(request: web.Request) -> web.Response:
    """``GET /staff/print-run``: the day's pending pieces."""
    ctx = ctx_of(request)
    user = require_staff(request, *ROLES)
    locale = page_locale(request)
    day = _day(request, request.query.get("date"))
    error = None
    if day is None:
        error = "date"
        day = _day(request, None)
        assert day is not None
    pieces = await postal.mail_pieces_on(ctx, day, user.courts)
    handed = request.query.get("handed", "")
    return workspace_page(
        request,
        "print_run.html",
        user,
        "print_run",
        status=422 if error else 200,
        locale=locale,
        day=day.isoformat(),
        pieces=pieces,
        handed=int(handed) if handed.isdigit() else None,
        error=error,
    )


async def handed_over(request: web.Request) -> web.Response:
    """``POST /staff/print-run/handed-over``: mark the checked pieces handed to the carrier."""
    ctx = ctx_of(request)
    user = require_staff(request, *ROLES)
    form = await read_form(request)
    await check_csrf(request, text_field(form, CSRF_FIELD))
    ids = [v for v in form.getall("attempt_id", []) if isinstance(v, str) and looks_like_id(v)]
    marked = await postal.hand_over(ctx, ids[:MAX_PIECES], user.courts, actor=user.actor)
    day = _day(request, text_field(form, "date")) or _day(request, None)
    lang = "&lang=en" if page_locale(request, form) == "en" else ""
    raise web.HTTPSeeOther(f"{PATH}?date={day}&handed={len(marked)}{lang}")


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, print_run)
    app.router.add_post(f"{PATH}/handed-over", handed_over)
