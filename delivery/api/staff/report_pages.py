"""``/staff/reports``: the success-rate report page for clerks and supervisors.

A GET form (from, to, grouping, court) and, from the same rows, three groupings: the table the
form asks for, the weekly rates (a line chart) and the counts per channel (a bar chart). The
charts are SVG drawn on the server (templates/charts.py computes the geometry), so the page
needs no script. Bad parameters show the form again with the error, and no figures.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web

from delivery.api.http.request_context import ctx_of
from delivery.api.staff.auth import page_locale, require_staff, workspace_page
from delivery.services import reports
from delivery.services.report_figures import DEFINITIONS
from delivery.staff import Role
from templates import charts
from templates.i18n import translate


def _weeks(start: date, end: date) -> list[date]:
    """The Mondays of every week the period touches."""
    monday = start - timedelta(days=start.weekday())
    return [monday + timedelta(weeks=i) for i in range((end - monday).days // 7 + 1)]


def _weekly_chart(report: reports.Report) -> charts.Chart:
    """Usage and success rates per week, every week of the period (a gap where none)."""
    by_monday = {g.label: g.figures for g in report.groups}
    mondays = [m.isoformat() for m in _weeks(report.request.start, report.request.end)]
    figures = [by_monday.get(m) for m in mondays]
    return charts.rate_lines(
        [m[5:] for m in mondays],
        [
            ("usage", [f.e_service_usage_rate if f else None for f in figures]),
            ("success", [f.success_rate if f else None for f in figures]),
        ],
    )


def _channel_chart(report: reports.Report, locale: str) -> charts.Chart:
    groups = report.groups
    return charts.grouped_bars(
        [reports.group_label(locale, "channel", g) for g in groups],
        [
            [g.figures.served for g in groups],
            [g.figures.failed for g in groups],
            [g.figures.cancelled for g in groups],
        ],
    )


async def reports_page(request: web.Request) -> web.Response:
    """``GET /staff/reports?from=&to=&group_by=&court=`` (default: this year so far, by
    channel, every court of the account)."""
    ctx = ctx_of(request)
    user = require_staff(request, Role.CLERK, Role.SUPERVISOR)
    q = request.query
    locale = page_locale(request)
    zone = ctx.settings.zone
    today = ctx.clock.now().astimezone(zone).date()
    values = {
        "from": q.get("from") or date(today.year, 1, 1).isoformat(),
        "to": q.get("to") or today.isoformat(),
        "group_by": q.get("group_by") or "channel",
        "court": q.get("court") or "",
    }
    page: dict[str, Any] = {
        "locale": locale,
        "values": values,
        "groupings": reports.GROUPINGS,
        "definitions": {name: translate(locale, text) for name, text in DEFINITIONS.items()},
        "errors": {},
        "report": None,
    }
    try:
        wanted = reports.parse_request(values, user.courts)
    except reports.ReportError as exc:
        # The parser's messages are the API's English; the page shows them in its reader's
        # language where the catalogue has them (the fixed ones are marked in the service).
        page["errors"] = {e["field"]: translate(locale, e["message"]) for e in exc.errors}
        return workspace_page(request, "reports.html", user, "reports", status=422, **page)
    groupings = list(dict.fromkeys([wanted.group_by, "week", "channel"]))
    charted = set(groupings) - {wanted.group_by}
    results = await reports.service_reports(
        ctx.engine, wanted, zone, user.courts, groupings, charted
    )
    report = results[wanted.group_by]
    return workspace_page(
        request,
        "reports.html",
        user,
        "reports",
        **{
            **page,
            "report": report,
            "labels": [reports.group_label(locale, wanted.group_by, g) for g in report.groups],
            "csv_query": {k: v for k, v in values.items() if v},
            "weekly": _weekly_chart(results["week"]),
            "channels": _channel_chart(results["channel"], locale),
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/staff/reports", reports_page)
