"""``songda report``: the success-rate report as an aligned table on the terminal.

The operator's view over every court in the database (or one, with ``--court``): the same
figures as ``GET /api/v1/reports/service``, one row per group and the totals last. Columns are
aligned by display width, so Chinese court and clerk names (two columns a character) line up.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import unicodedata
from typing import Any

from delivery.cli.language import _, cli_locale, said
from delivery.cli.settings import EXIT_USAGE
from delivery.config import DatabaseSettings
from delivery.services import reports
from templates.i18n import SOURCE_LOCALE, ptranslate
from templates.labels import L_


def add_parser(commands: Any) -> None:
    report = commands.add_parser(
        "report", help=_("success rates per channel, court, clerk, week or month (a table)")
    )
    report.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD")
    report.add_argument("--to", dest="end", required=True, metavar="YYYY-MM-DD")
    report.add_argument("--by", default="channel", choices=reports.GROUPINGS)
    report.add_argument("--court", help=_("one court (default: every court)"))


# The table's header: in English the CSV's column names (scripts read them), in Chinese words.
HEADERS = {
    "key": L_("report table", "key"),
    "label": L_("report table", "label"),
    "served": L_("report table", "served"),
    "failed": L_("report table", "failed"),
    "cancelled": L_("report table", "cancelled"),
    "served_electronically": L_("report table", "served_electronically"),
    "served_first_try": L_("report table", "served_first_try"),
    "served_after_confirmation": L_("report table", "served_after_confirmation"),
    "served_by_reply": L_("report table", "served_by_reply"),
    "e_service_usage_rate": L_("report table", "e_service_usage_rate"),
    "success_rate": L_("report table", "success_rate"),
    "first_try_rate": L_("report table", "first_try_rate"),
    "time_to_service_median_hours": L_("report table", "time_to_service_median_hours"),
    "time_to_service_p90_hours": L_("report table", "time_to_service_p90_hours"),
    reports.TOTAL_KEY: L_("report table", "total"),
}


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def aligned(rows: list[list[str]]) -> str:
    """Rows of cells as text columns: the first two left-aligned, numbers right-aligned
    (a figure with no value is printed as ``-``)."""
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - _width(cell))
            cells.append(cell + pad if i < 2 else pad + cell)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def run(settings: DatabaseSettings, args: argparse.Namespace) -> int:
    from delivery.storage.engine import create_engine

    values = {"from": args.start, "to": args.end, "group_by": args.by, "court": args.court}
    try:
        wanted = reports.parse_request(values)
    except reports.ReportError as exc:
        for error in exc.errors:
            print(f"songda report: --{error['field']}: {said(error['message'])}", file=sys.stderr)
        return EXIT_USAGE

    async def load() -> reports.Report:
        engine = create_engine(settings.database_url)
        try:
            return await reports.service_report(engine, wanted, settings.zone, None)
        finally:
            await engine.dispose()

    report = asyncio.run(load())
    locale = cli_locale()
    rows = [[cell or "-" for cell in row] for row in reports.table_rows(report)]
    if locale != SOURCE_LOCALE:
        # English keeps the codes (scripts split the columns on spaces); Chinese reads labels.
        for row, group in zip(rows, report.groups, strict=False):
            row[1] = reports.group_label(locale, args.by, group)
    rows[-1][1] = ptranslate(locale, "report table", HEADERS[reports.TOTAL_KEY])
    header = [ptranslate(locale, "report table", HEADERS[c]) for c in reports.TABLE_COLUMNS]
    print(aligned([header, *rows]))
    return 0
