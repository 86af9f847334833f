"""Success-rate reports: figures per channel, court, clerk, week or month, from the stored events.

The outcomes are read from the evidence chain (``service_outcomes``), one standing outcome per
dispatch (:class:`OutcomeRow`), by delivery/storage/reports.py; this module only shapes them:
:func:`compute` — pure, unit-tested — groups the rows in one pass, and
delivery/services/report_figures.py turns each group into its figures. Why these sources, and
the reading of the period and of each grouping: docs/decisions/0013-service-reports.md.
On PostgreSQL the database counts the groups itself and this module names and orders them
(:func:`_reports_of`): the same figures without a year's rows crossing into Python —
docs/decisions/0049-reports-in-sql.md.
"""

from __future__ import annotations

import gc
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from delivery.clock import parse_day
from delivery.domain import CANCELLED_EVENT as CANCELLED
from delivery.domain import FAILED_EVENT as FAILED
from delivery.domain import SERVED_EVENT as SERVED
from delivery.services.report_figures import DEFINITIONS, Figures, Tally
from delivery.storage.engine import Engine
from delivery.storage.reports import (
    COUNTS,
    GroupFigures,
    OutcomeRow,
    aggregates_in_sql,
    midnight,
    outcome_figures,
    standing_outcomes,
    unit_start,
)
from delivery.vocabulary import Channel
from templates.i18n import N_, ptranslate
from templates.labels import L_, label

GROUPINGS = ("channel", "court", "clerk", "week", "month")
CHANNEL_ORDER = tuple(Channel)
NO_CHANNEL = "none"  # failed or cancelled before any attempt was made
UNASSIGNED = "unassigned"


class ReportError(Exception):
    """Parameters that do not make a report; ``errors`` name each field."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class ReportRequest:
    start: date  # "from", inclusive
    end: date  # "to", inclusive
    group_by: str
    court: str | None = None


def parse_request(
    values: Mapping[str, str | None], courts: Sequence[str] | None = None
) -> ReportRequest:
    """``from``, ``to`` (YYYY-MM-DD), ``group_by`` (default channel) and an optional ``court``
    (one of ``courts``, the caller's, when given), as the API, the page and the CLI receive
    them; :class:`ReportError` names each bad field."""
    errors: list[dict[str, str]] = []
    dates: dict[str, date] = {}
    for name in ("from", "to"):
        day = parse_day((values.get(name) or "").strip())
        if day is None:
            errors.append({"field": name, "message": N_("must be a date, YYYY-MM-DD")})
        else:
            dates[name] = day
    if len(dates) == 2 and dates["from"] > dates["to"]:
        errors.append({"field": "to", "message": N_("must not be before from")})
    group_by = (values.get("group_by") or "channel").strip()
    if group_by not in GROUPINGS:
        errors.append({"field": "group_by", "message": f"must be one of {', '.join(GROUPINGS)}"})
    court = (values.get("court") or "").strip() or None
    if court is not None and courts is not None and court not in courts:
        errors.append({"field": "court", "message": N_("must be one of your courts")})
    if errors:
        raise ReportError(errors)
    return ReportRequest(dates["from"], dates["to"], group_by, court)


# --- The rows the database gives, and the pure computation ---


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    figures: Figures


@dataclass(frozen=True)
class Report:
    request: ReportRequest
    time_zone: str
    totals: Figures
    groups: list[Group]

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.request.start.isoformat(),
            "to": self.request.end.isoformat(),
            "group_by": self.request.group_by,
            "court": self.request.court,
            "time_zone": self.time_zone,
            "definitions": DEFINITIONS,
            "totals": self.totals.as_json(),
            "groups": [
                {"key": g.key, "label": g.label, **g.figures.as_json()} for g in self.groups
            ],
        }


TABLE_COLUMNS = (
    "key",
    "label",
    "served",
    "failed",
    "cancelled",
    "served_electronically",
    "served_first_try",
    "served_after_confirmation",
    "served_by_reply",
    "e_service_usage_rate",
    "success_rate",
    "first_try_rate",
    "time_to_service_median_hours",
    "time_to_service_p90_hours",
)
# The groups that name no channel or clerk, by their labels (a channel or a clerk reads as its
# own label or name).
GROUP_NAMES = {
    NO_CHANNEL: L_("report_group", "no attempt"),
    UNASSIGNED: L_("report_group", "unassigned"),
}


def group_label(locale: str, group_by: str, group: Group) -> str:
    """A group as a person reads it in ``locale`` (the page, the Chinese CLI); its key stays
    the code, for programs."""
    if group.key in GROUP_NAMES:
        return ptranslate(locale, "report_group", GROUP_NAMES[group.key])
    if group_by == "channel":
        return label(locale, "channel", group.key)
    return group.label


TOTAL_KEY = "total"


def table_rows(report: Report) -> list[list[str]]:
    """The report as rows of text under :data:`TABLE_COLUMNS`, totals last (CSV and CLI)."""

    def row(key: str, label: str, f: Figures) -> list[str]:
        values = (
            f.served,
            f.failed,
            f.cancelled,
            f.served_electronically,
            f.served_first_try,
            f.served_after_confirmation,
            f.served_by_reply,
            f.e_service_usage_rate,
            f.success_rate,
            f.first_try_rate,
            f.median_hours,
            f.p90_hours,
        )
        return [key, label, *("" if v is None else str(v) for v in values)]

    return [row(g.key, g.label, g.figures) for g in report.groups] + [
        row(TOTAL_KEY, TOTAL_KEY, report.totals)
    ]


def _group_of(row: OutcomeRow, group_by: str, day: date) -> tuple[str, str]:
    """(key, label) of the group a counted dispatch falls in."""
    if group_by == "channel":
        channel = row.channel if row.outcome == SERVED else row.last_attempt_channel
        return (channel or NO_CHANNEL,) * 2
    if group_by == "court":
        return row.court, row.court
    if group_by == "clerk":
        return (row.owner_id or UNASSIGNED,) * 2
    return _group_of_day(group_by, day)


def _group_of_day(group_by: str, day: date) -> tuple[str, str]:
    """(key, label) of the week or the month of ``day``."""
    if group_by == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}", unit_start("week", day).isoformat()
    return (f"{day.year}-{day.month:02d}",) * 2


def _order(group_by: str, key: str, label: str) -> tuple[Any, ...]:
    if group_by == "channel":
        known = key in CHANNEL_ORDER
        return (key == NO_CHANNEL, not known, CHANNEL_ORDER.index(key) if known else 0, key)
    if group_by == "clerk":
        return (key == UNASSIGNED, label, key)
    return (key,)


def compute(
    rows: Iterable[OutcomeRow],
    request: ReportRequest,
    zone: ZoneInfo,
    owner_names: Mapping[str, str] | None = None,
) -> Report:
    """The figures of the rows whose standing outcome counts in the period, in one pass.

    ``rows`` hold one standing outcome per dispatch; reversals (unserved, resumed) and outcomes
    dated outside the period are skipped. ``owner_names`` label the clerk groups."""
    return compute_groupings(rows, request, zone, [request.group_by], owner_names)[request.group_by]


def compute_groupings(
    rows: Iterable[OutcomeRow],
    request: ReportRequest,
    zone: ZoneInfo,
    groupings: Sequence[str],
    owner_names: Mapping[str, str] | None = None,
) -> dict[str, Report]:
    """:func:`compute` for each of ``groupings`` (``request.group_by`` aside), in one pass
    over the rows: the page shows three groupings of a year's ~80,000 outcomes."""
    tallies: dict[str, dict[tuple[str, str], Tally]] = {by: {} for by in groupings}
    for row in rows:
        if row.outcome not in (SERVED, FAILED, CANCELLED):
            continue
        day = row.outcome_date(zone)
        if not request.start <= day <= request.end:
            continue
        for by, groups in tallies.items():
            key = _group_of(row, by, day)
            tally = groups.get(key)
            if tally is None:  # (not setdefault: that would make a tally for every row)
                tally = groups[key] = Tally()
            tally.add(row)
    names = owner_names or {}
    return {
        by: _report(replace(request, group_by=by), zone, groups, names)
        for by, groups in tallies.items()
    }


def _report(
    request: ReportRequest,
    zone: ZoneInfo,
    tallies: Mapping[tuple[str, str], Tally],
    names: Mapping[str, str],
) -> Report:
    totals = Tally.merged(tallies.values())  # every counted row is in one group
    groups = [
        Group(key, names.get(key, label), tally.figures())
        for (key, label), tally in tallies.items()
    ]
    groups.sort(key=lambda g: _order(request.group_by, g.key, g.label))
    return Report(request, zone.key, totals.figures(), groups)


async def service_reports(
    engine: Engine,
    request: ReportRequest,
    zone: ZoneInfo,
    courts: Sequence[str] | None,
    groupings: Sequence[str],
    charted: Collection[str] = (),
) -> dict[str, Report]:
    """The report over ``courts`` (the caller's; None: every court, for the operator's CLI),
    narrowed to ``request.court`` when it names one, once per grouping in ``groupings`` — all
    from the same rows (the page shows its table, the weeks and the channels), in one snapshot
    (docs/decisions/0055: the counts and the durations apart), and one more query (the owners'
    names) when grouping by clerk. The reports of the ``charted``
    groupings are only drawn (rates and counts): where the database aggregates, their groups
    carry no time to service, which would cost a sort of the period's durations each
    (docs/decisions/0053)."""
    if request.court is not None:
        courts = [request.court]
    if aggregates_in_sql(engine):
        found, names = await outcome_figures(
            engine, request.start, request.end, zone, courts, groupings, charted
        )
        return _reports_of(found, names, request, zone, groupings)
    with _collector_paused():
        rows, names = await standing_outcomes(
            engine, midnight(request.start, zone), courts, owners="clerk" in groupings
        )
        return compute_groupings(rows, request, zone, groupings, names)


def _hours(duration: timedelta | None) -> float | None:
    """A time to service in hours, as :meth:`Tally.add` computes it from the two instants."""
    return None if duration is None else duration.total_seconds() / 3600


def _tally(found: GroupFigures) -> Tally:
    return Tally(**{name: getattr(found, name) for name in COUNTS})


def _key_of(found: GroupFigures) -> tuple[str, str]:
    """(key, label) of a group the database counted, as :func:`_group_of` names it."""
    if found.grouping == "channel":
        return (str(found.key or NO_CHANNEL),) * 2
    if found.grouping == "clerk":
        return (str(found.key or UNASSIGNED),) * 2
    if isinstance(found.key, date):  # the Monday of the week, the first of the month
        return _group_of_day(found.grouping or "", found.key)
    return (str(found.key),) * 2


def _reports_of(
    found: Iterable[GroupFigures],
    names: Mapping[str, str],
    request: ReportRequest,
    zone: ZoneInfo,
    groupings: Sequence[str],
) -> dict[str, Report]:
    """The reports of the figures the database aggregated per group (and the owners' names):
    the same groups and figures as :func:`compute_groupings` makes of the rows.
    docs/decisions/0049-reports-in-sql.md."""
    groups: dict[str, list[Group]] = {by: [] for by in groupings}
    totals = Tally().figures()
    for f in found:
        figures = _tally(f).figures_with(_hours(f.median), _hours(f.p90))
        if f.grouping is None:
            totals = figures
            continue
        key, label = _key_of(f)
        groups[f.grouping].append(Group(key, names.get(key, label), figures))
    reports = {}
    for by, listed in groups.items():
        listed.sort(key=lambda g: _order(by, g.key, g.label))
        reports[by] = Report(replace(request, group_by=by), zone.key, totals, listed)
    return reports


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a report is made. A year's report allocates some
    500,000 objects (rows, tuples, datetimes) that form no cycles; meanwhile the collector would
    walk the growing heap again and again — a third of the report's time (bench/workspace.py).
    They are freed by reference counting when the report is done. (Another report running
    meanwhile may turn the collector back on first: it then only runs as usual.)"""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def service_report(
    engine: Engine, request: ReportRequest, zone: ZoneInfo, courts: Sequence[str] | None
) -> Report:
    """The report as ``request`` groups it (see :func:`service_reports`)."""
    reports = await service_reports(engine, request, zone, courts, [request.group_by])
    return reports[request.group_by]
