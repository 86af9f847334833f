"""The audit of contact reveals as CSV (docs/decisions/0035): one dispatch's
``GET /staff/dispatches/{id}/reveals.csv`` (anyone who may read the dispatch page), and every
dispatch of the account's courts over a range of court days ``GET /staff/reveals.csv?from=&to=``
(supervisors: they answer for the court's handling of personal data).

A row says who revealed which contact of which dispatch, and when — never the contact's value:
the export is read by people who may not see the contact itself. Values are codes (contact kind
``email``/``phone``/``postal``), as in the other CSV exports, for a spreadsheet to filter on.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from delivery.api.http.problems import validation_problem
from delivery.api.http.request_context import ctx_of, path_id
from delivery.api.staff.auth import require_staff
from delivery.api.staff.dispatch_page import ID, PAGE_ROLES
from delivery.clock import parse_day
from delivery.services import contact_reveals
from delivery.services.contact_reveals import ContactReveal
from delivery.services.dispatch_view import in_scope
from delivery.staff import Role

COLUMNS = (
    "revealed_at",
    "dispatch_id",
    "case_number",
    "court",
    "contact_id",
    "contact_kind",
    "staff_username",
    "staff_name",
)
DEFAULT_DAYS = 30  # the all-dispatches export without a range: the last 30 court days


def audit_csv(reveals: list[ContactReveal], zone: ZoneInfo) -> bytes:
    """The reveals as CSV with a byte-order mark (Excel reads it as UTF-8), times in the
    court's zone with their offset."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in reveals:
        writer.writerow(
            (
                r.revealed_at.astimezone(zone).isoformat(),
                r.dispatch_id,
                r.case_number,
                r.court,
                r.contact_id,
                r.contact_kind,
                r.username,
                r.display_name,
            )
        )
    return out.getvalue().encode("utf-8")


def _csv_response(body: bytes, name: str) -> web.Response:
    return web.Response(
        body=body,
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def dispatch_reveals(request: web.Request) -> web.Response:
    """``GET /staff/dispatches/{id}/reveals.csv``."""
    ctx = ctx_of(request)
    user = require_staff(request, *PAGE_ROLES)
    dispatch_id = path_id(request, "dispatch_id", "dispatch")
    if not await in_scope(ctx, dispatch_id, user.courts):
        raise web.HTTPNotFound(text="404: no such dispatch")
    reveals = await contact_reveals.dispatch_audit(ctx, dispatch_id)
    return _csv_response(
        audit_csv(reveals, ctx.settings.zone), f"contact-reveals-{dispatch_id}.csv"
    )


async def court_reveals(request: web.Request) -> web.Response:
    """``GET /staff/reveals.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`` (court days, both included;
    default: the last 30 days up to today)."""
    ctx = ctx_of(request)
    user = require_staff(request, Role.SUPERVISOR)
    today = ctx.clock.now().astimezone(ctx.settings.zone).date()
    raw = {
        "from": request.query.get("from") or (today - timedelta(days=DEFAULT_DAYS)).isoformat(),
        "to": request.query.get("to") or today.isoformat(),
    }
    days = {name: parse_day(value.strip()) for name, value in raw.items()}
    errors = [
        {"field": name, "message": "must be a date, YYYY-MM-DD"}
        for name, day in days.items()
        if day is None
    ]
    first, last = days["from"], days["to"]
    if first is not None and last is not None and first > last:
        errors.append({"field": "to", "message": "must not be before from"})
    if errors or first is None or last is None:
        raise validation_problem(errors)
    reveals = await contact_reveals.court_audit(ctx, user.courts, first, last)
    return _csv_response(
        audit_csv(reveals, ctx.settings.zone), f"contact-reveals-{first}-{last}.csv"
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"/staff/dispatches/{ID}/reveals.csv", dispatch_reveals)
    app.router.add_get("/staff/reveals.csv", court_reveals)
