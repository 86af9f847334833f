"""Success-rate reports over a known population: every figure, for every grouping, in the JSON,
the CSV, the page and the CLI.

The dispatches are created through the API (so ``dispatch_created``, ``owner_assigned`` — the
named clerk, or none —, the first ``step_started`` and the first e-mail attempt are the real
ones) and reassigned by the real clerk action; what happens to them afterwards — escalations,
attempts on other channels, service, failure, reversal, cancellation — is written through the
real unit of work on the manual clock, with the services' own functions where they exist, in
the same events and data as the ladder records them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime, time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from api_client import Api
from cli_runner import songda
from conftest import COURT, OTHER_COURT, SECRETS_KEY
from helpers import log_in, staff_account

from delivery.clock import ManualClock
from delivery.config import Settings
from delivery.context import Context
from delivery.services.api_keys import create_api_key
from delivery.services.reports import GROUPINGS, compute_groupings, parse_request, service_reports
from delivery.staff import Role
from delivery.storage.reports import aggregates_in_sql, standing_outcomes
from integration.delivery.support import build_population

Q1 = {"from": "2026-01-01", "to": "2026-03-31"}


# (key, label, served, failed, cancelled, electronically, first try,
#  usage, success, first-try rate, median h, p90 h)
Row = tuple[str, str, int, int, int, int, int, float | None, float | None, float | None, Any, Any]
TOTAL: Row = ("total", "total", 8, 2, 1, 4, 4, 0.5, 0.8, 0.5, 5.0, 240.0)
EXPECTED: dict[str, list[Row]] = {
    "channel": [
        ("email", "email", 3, 1, 1, 3, 3, 1.0, 0.75, 1.0, 2.0, 4.0),
        ("sms", "sms", 1, 0, 0, 1, 1, 1.0, 1.0, 1.0, 5.0, 5.0),
        ("postal", "postal", 2, 1, 0, 0, 0, 0.0, 0.6667, 0.0, 72.0, 100.0),
        ("in_person", "in_person", 1, 0, 0, 0, 0, 0.0, 1.0, 0.0, 120.0, 120.0),
        ("public_notice", "public_notice", 1, 0, 0, 0, 0, 0.0, 1.0, 0.0, 240.0, 240.0),
    ],
    "court": [
        (OTHER_COURT, OTHER_COURT, 3, 0, 1, 1, 1, 0.3333, 1.0, 0.3333, 120.0, 240.0),
        (COURT, COURT, 5, 2, 0, 3, 3, 0.6, 0.7143, 0.6, 5.0, 100.0),
    ],
    "clerk": [
        ("c1", "赵书记员", 3, 0, 1, 2, 2, 0.6667, 1.0, 0.6667, 5.0, 240.0),
        ("c2", "钱书记员", 5, 0, 0, 2, 2, 0.4, 1.0, 0.4, 72.0, 120.0),
        ("unassigned", "unassigned", 0, 2, 0, 0, 0, None, 0.0, None, None, None),
    ],
    "month": [
        ("2026-01", "2026-01", 5, 0, 0, 3, 3, 0.6, 1.0, 0.6, 5.0, 120.0),
        ("2026-02", "2026-02", 2, 1, 1, 0, 0, 0.0, 0.6667, 0.0, 100.0, 240.0),
        ("2026-03", "2026-03", 1, 1, 0, 1, 1, 1.0, 0.5, 1.0, 4.0, 4.0),
    ],
    "week": [
        ("2026-W01", "2025-12-29", 1, 0, 0, 1, 1, 1.0, 1.0, 1.0, 1.5, 1.5),
        ("2026-W02", "2026-01-05", 3, 0, 0, 2, 2, 0.6667, 1.0, 0.6667, 5.0, 72.0),
        ("2026-W04", "2026-01-19", 1, 0, 0, 0, 0, 0.0, 1.0, 0.0, 120.0, 120.0),
        ("2026-W07", "2026-02-09", 1, 1, 1, 0, 0, 0.0, 0.5, 0.0, 240.0, 240.0),
        ("2026-W08", "2026-02-16", 1, 0, 0, 0, 0, 0.0, 1.0, 0.0, 100.0, 100.0),
        ("2026-W12", "2026-03-16", 1, 0, 0, 1, 1, 1.0, 1.0, 1.0, 4.0, 4.0),
        ("2026-W13", "2026-03-23", 0, 1, 0, 0, 0, None, 0.0, None, None, None),
    ],
}


def expected(group_by: str, clerks: dict[str, str]) -> list[Row]:
    """The table with the clerks' ids in place of "c1"/"c2"."""
    return [(clerks.get(r[0], r[0]), *r[1:]) for r in EXPECTED[group_by]]


def json_row(key: str, label: str, f: dict[str, Any]) -> Row:
    return (
        key,
        label,
        f["served"],
        f["failed"],
        f["cancelled"],
        f["served_electronically"],
        f["served_first_try"],
        f["e_service_usage_rate"],
        f["success_rate"],
        f["first_try_rate"],
        f["time_to_service"]["median_hours"],
        f["time_to_service"]["p90_hours"],
    )


def text_row(cells: list[str]) -> Row:
    """A CSV or CLI row back into numbers (an empty cell is null)."""

    def number(cell: str) -> float | None:
        return None if cell == "" else float(cell)

    key, label, *counts = cells[:7]
    # This population has no confirmed address and no reply (test_report_reach.py counts them).
    assert cells[7:9] == ["0", "0"], cells
    return (
        key,
        label,
        *(int(c) for c in counts),
        *(number(c) for c in cells[9:]),
    )


@pytest.fixture
async def population(api: Api, ctx: Context, clock: ManualClock) -> dict[str, str]:
    _key, token = await create_api_key(ctx.engine, ctx.clock, "both", [COURT, OTHER_COURT])
    both = Api(api.client, {"Authorization": f"Bearer {token}"}, ctx)
    return await build_population(both, ctx, clock)


@pytest.fixture
async def both_courts(ctx: Context, population: dict[str, str]) -> dict[str, str]:
    _key, token = await create_api_key(ctx.engine, ctx.clock, "reports", [COURT, OTHER_COURT])
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.both_databases
async def test_every_figure_by_every_grouping_in_json_and_csv(
    client: TestClient[Any, Any], population: dict[str, str], both_courts: dict[str, str]
) -> None:
    for group_by in EXPECTED:
        params = {**Q1, "group_by": group_by}
        response = await client.get("/api/v1/reports/service", params=params, headers=both_courts)
        assert response.status == 200, await response.text()
        body = await response.json()
        assert (body["from"], body["to"], body["group_by"]) == (
            "2026-01-01",
            "2026-03-31",
            group_by,
        )
        assert body["time_zone"] == "Asia/Shanghai"
        assert set(body["definitions"]) >= {"e_service_usage_rate", "success_rate"}
        groups = [json_row(g["key"], g["label"], g) for g in body["groups"]]
        assert groups == expected(group_by, population), group_by
        reach = {(g["served_after_confirmation"], g["served_by_reply"]) for g in body["groups"]}
        assert reach == {(0, 0)}
        assert json_row("total", "total", body["totals"]) == TOTAL

        response = await client.get(
            "/api/v1/reports/service.csv", params=params, headers=both_courts
        )
        assert response.status == 200
        assert response.content_type == "text/csv"
        raw = await response.read()
        assert raw.startswith("\ufeff".encode())
        header, *rows = csv.reader(io.StringIO(raw.decode("utf-8-sig")))
        assert header[:2] == ["key", "label"]
        assert [text_row(r) for r in rows] == [*expected(group_by, population), TOTAL]


async def test_the_cli_prints_the_same_figures(
    settings: Settings, population: dict[str, str]
) -> None:
    env = {
        "SONGDA_DATA_DIR": str(settings.data_dir),
        "SONGDA_DATABASE_URL": settings.database_url,
        "SONGDA_SECRET_KEY": settings.secret_key,
        "SONGDA_SECRETS_KEY": SECRETS_KEY,
        "SONGDA_SMTP_HOST": "127.0.0.1",
        "SONGDA_SMTP_SENDER": "service@court.example",
        "SONGDA_COURT_NAME": COURT,
    }
    for group_by in EXPECTED:
        result = songda("report", "--from", Q1["from"], "--to", Q1["to"], "--by", group_by, env=env)
        assert result.returncode == 0, result.stderr
        header, *lines = result.stdout.splitlines()
        assert header.split()[:3] == ["key", "label", "served"]
        cells = [["" if c == "-" else c for c in line.split()] for line in lines]
        assert [text_row(c) for c in cells] == [*expected(group_by, population), TOTAL]

    one = songda("report", "--from", Q1["from"], "--to", Q1["to"], "--court", COURT, env=env)
    assert one.returncode == 0, one.stderr
    assert one.stdout.splitlines()[-1].split()[2:5] == ["5", "2", "0"]
    for bad in (["--from", "2026-13-01", "--to", "2026-12-31"], ["--from", "2026-02-01"]):
        refused = songda("report", *bad, env=env)
        assert refused.returncode == 2
        assert "--" in refused.stderr


async def test_scope_parameters_and_roles(
    client: TestClient[Any, Any],
    auth: dict[str, str],
    ctx: Context,
    population: dict[str, str],
) -> None:
    # A key of one court sees that court only; another court is not a filter it may use.
    own = await client.get(
        "/api/v1/reports/service", params={**Q1, "group_by": "court"}, headers=auth
    )
    assert own.status == 200
    body = await own.json()
    court_a = next(r for r in EXPECTED["court"] if r[0] == COURT)
    assert [json_row(g["key"], g["label"], g) for g in body["groups"]] == [court_a]
    assert json_row("total", "total", body["totals"])[2:] == court_a[2:]
    for params, field in (
        ({**Q1, "court": OTHER_COURT}, "court"),
        ({"to": "2026-03-31"}, "from"),
        ({**Q1, "to": "2025-12-31"}, "to"),
        ({**Q1, "group_by": "colour"}, "group_by"),
        ({**Q1, "colour": "red"}, "colour"),
    ):
        for path in ("/api/v1/reports/service", "/api/v1/reports/service.csv"):
            refused = await client.get(path, params=params, headers=auth)
            assert refused.status == 422, params
            assert refused.content_type == "application/problem+json"
            assert [e["field"] for e in (await refused.json())["errors"]] == [field]
    assert (await client.get("/api/v1/reports/service", params=Q1)).status == 401

    # Staff: a clerk's session reads the API over the clerk's courts; a field server may not.
    clerk, password = await staff_account(ctx, Role.CLERK, courts=(OTHER_COURT,))
    await log_in(client, clerk.username, password)
    mine = await client.get("/api/v1/reports/service", params={**Q1, "group_by": "court"})
    assert mine.status == 200
    court_b = next(r for r in EXPECTED["court"] if r[0] == OTHER_COURT)
    assert [json_row(g["key"], g["label"], g) for g in (await mine.json())["groups"]] == [court_b]
    server, password = await staff_account(ctx, Role.FIELD_SERVER)
    await log_in(client, server.username, password)
    assert (await client.get("/api/v1/reports/service", params=Q1)).status == 403
    assert (await client.get("/api/v1/reports/service.csv", params=Q1)).status == 403
    page = await client.get("/staff/reports", allow_redirects=False)
    assert page.status == 403


async def test_the_report_page_shows_definitions_table_and_charts(
    client: TestClient[Any, Any], ctx: Context, population: dict[str, str]
) -> None:
    anonymous = await client.get("/staff/reports", allow_redirects=False)
    assert anonymous.status == 302
    assert anonymous.headers["Location"].startswith("/login")
    supervisor, password = await staff_account(
        ctx, Role.SUPERVISOR, courts=(COURT, OTHER_COURT), display_name="孙法官"
    )
    await log_in(client, supervisor.username, password)
    response = await client.get("/staff/reports", params={**Q1, "group_by": "clerk"})
    assert response.status == 200
    html = await response.text()
    assert "电子送达使用率" in html and "最近秩法" in html  # the definitions, in Chinese
    c1, c2 = population["c1"], population["c2"]
    for key, label, figures in (
        (c1, "赵书记员", ["3", "0", "1", "66.7%", "100.0%", "66.7%", "0", "0", "5.0", "240.0"]),
        (c2, "钱书记员", ["5", "0", "0", "40.0%", "100.0%", "40.0%", "0", "0", "72.0", "120.0"]),
        ("unassigned", "未分配", ["0", "2", "0", "—", "0.0%", "—", "0", "0", "—", "—"]),
        ("total", "合计", ["8", "2", "1", "50.0%", "80.0%", "50.0%", "0", "0", "5.0", "240.0"]),
    ):
        row = html.split(f'data-key="{key}">', 1)[1].split("</tr>", 1)[0]
        cells = [c.split(">", 1)[1].split("<", 1)[0] for c in row.split("<td")[1:]]
        assert cells == [label, *figures], key
    # The charts: SVG in the page, no script of their own.
    weekly = html.split('id="weekly-rates"', 1)[1].split("</figure>", 1)[0]
    assert weekly.count("<circle") == 6 + 7  # usage in 6 weeks, success in 7
    assert "<script" not in weekly
    channels = html.split('id="channel-bars"', 1)[1].split("</figure>", 1)[0]
    assert channels.count("<rect") == 3 * 5  # served, failed, cancelled × five channels
    assert "<title>3</title>" in channels  # served by e-mail
    assert 'href="/api/v1/reports/service.csv?from=2026-01-01&amp;to=2026-03-31' in html

    english = await client.get("/staff/reports", params={**Q1, "lang": "en"})
    assert "E-service usage rate" in await english.text()
    bad = await client.get("/staff/reports", params={"from": "2026-13-01", "to": "2026-03-31"})
    assert bad.status == 422
    page = await bad.text()
    # The field by its name on the form and the parser's message, both in the page's language.
    assert 'role="alert"' in page and "<b>起始日期</b>: 应为日期，格式 YYYY-MM-DD" in page
    assert 'value="2026-13-01"' in page and 'data-key="total"' not in page


async def test_the_database_aggregates_as_the_rows_count(
    ctx: Context, population: dict[str, str]
) -> None:
    """PostgreSQL computes the figures itself (docs/decisions/0049-reports-in-sql.md): for
    every grouping, period and scope they are those Python makes of the standing outcomes —
    the path SQLite keeps — periods starting and ending on the population's edges included."""
    assert aggregates_in_sql(ctx.engine)
    zone = ctx.settings.zone
    periods = [
        ("2026-01-01", "2026-03-31"),
        ("2026-01-05", "2026-01-11"),
        ("2026-02-01", "2026-02-28"),
        ("2026-02-10", "2026-03-20"),
        ("2026-03-25", "2026-12-31"),
        ("2025-01-01", "2025-12-31"),
    ]
    for start, end in periods:
        for courts in (None, [COURT], [OTHER_COURT]):
            request = parse_request({"from": start, "to": end})
            in_sql = await service_reports(ctx.engine, request, zone, courts, GROUPINGS)
            start_at = datetime.combine(request.start, time(), zone)
            rows, names = await standing_outcomes(ctx.engine, start_at, courts, owners=True)
            assert in_sql == compute_groupings(rows, request, zone, GROUPINGS, names), (
                start,
                end,
                courts,
            )
            # The page's charts: every grouping but the table's counted without percentiles,
            # the same counts, rates and totals (docs/decisions/0053).
            charted = set(GROUPINGS) - {"clerk"}
            drawn = await service_reports(ctx.engine, request, zone, courts, GROUPINGS, charted)
            assert drawn["clerk"] == in_sql["clerk"]
            for by in charted:
                assert drawn[by].totals == in_sql[by].totals
                assert [(g.key, g.label) for g in drawn[by].groups] == [
                    (g.key, g.label) for g in in_sql[by].groups
                ]
                untimed = {"median_hours": None, "p90_hours": None}
                assert [g.figures for g in drawn[by].groups] == [
                    replace(g.figures, **untimed) for g in in_sql[by].groups
                ], (by, start, end, courts)
