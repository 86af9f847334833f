"""``GET /api/v1/reports/service`` (JSON) and ``/api/v1/reports/service.csv``: the success-rate
report over the caller's courts (an API key, or a clerk's or supervisor's session).

The figures and their definitions are delivery/services/reports.py's; this module only reads
the parameters and writes the answer. The CSV is UTF-8 with a byte-order mark, so that Excel
opens the Chinese court and clerk names as text rather than mojibake.
"""

from __future__ import annotations

import csv
import io

from aiohttp import web

from delivery.api.http.problems import validation_problem
from delivery.api.http.request_context import caller, ctx_of, json_response
from delivery.services import reports
from delivery.staff import Role

PARAMETERS = ("from", "to", "group_by", "court")
REPORT_ROLES = (Role.CLERK, Role.SUPERVISOR)


async def _report(request: web.Request) -> reports.Report:
    ctx = ctx_of(request)
    who = caller(request, *REPORT_ROLES)
    unknown = sorted(set(request.query) - set(PARAMETERS))
    if unknown:
        raise validation_problem([{"field": n, "message": "unknown parameter"} for n in unknown])
    try:
        wanted = reports.parse_request(request.query, who.courts)
    except reports.ReportError as exc:
        raise validation_problem(exc.errors) from None
    return await reports.service_report(ctx.engine, wanted, ctx.settings.zone, who.courts)


def csv_text(report: reports.Report) -> str:
    """The report as CSV (header row, one row per group, totals last), with a BOM."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(reports.TABLE_COLUMNS)
    writer.writerows(reports.table_rows(report))
    return out.getvalue()


async def service(request: web.Request) -> web.Response:
    return json_response((await _report(request)).as_json())


async def service_csv(request: web.Request) -> web.Response:
    report = await _report(request)
    wanted = report.request
    name = f"service-report-{wanted.start}-{wanted.end}-{wanted.group_by}.csv"
    return web.Response(
        body=csv_text(report).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/reports/service", service)
    app.router.add_get("/api/v1/reports/service.csv", service_csv)
