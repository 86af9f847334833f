"""Success-rate reports: figures per channel, court, clerk, week or month, from the stored events.

The outcomes are read from the evidence chain, never from columns of the dispatch row that
other code updates (a counter can drift; the events are the record): from ``service_outcomes``,
the projection of the outcome events written in the same transaction as each of them, one row
per event with the facts of its data, its dispatch (court, creation) and the dispatch's attempts
(steps, channel) — delivery/storage/outcomes.py. One statement fetches the outcomes of the
caller's courts recorded since the period began; the latest per dispatch is its *standing*
outcome (:class:`OutcomeRow`). Only when grouping by clerk, a second reads the ownership events
and a third the owners' names. :func:`compute` — pure,
unit-tested — turns the rows into the figures in one pass. Why these sources, and the reading
of the period and of each grouping: docs/decisions/0013-service-reports.md.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.clock import parse_day
from delivery.domain import CANCELLED_EVENT as CANCELLED
from delivery.domain import ELECTRONIC_CHANNELS
from delivery.domain import FAILED_EVENT as FAILED
from delivery.domain import SERVED_EVENT as SERVED
from delivery.storage.engine import READ_ONLY
from delivery.storage.json_text import json_text
from delivery.storage.schema import events, service_outcomes, staff_users
from delivery.vocabulary import Channel, EventType

GROUPINGS = ("channel", "court", "clerk", "week", "month")
OWNER_EVENTS = (EventType.OWNER_ASSIGNED, EventType.OWNER_REASSIGNED)
CHANNEL_ORDER = tuple(Channel)
NO_CHANNEL = "none"  # failed or cancelled before any attempt was made
UNASSIGNED = "unassigned"

DEFINITIONS = {
    "en": {
        "e_service_usage_rate": "served electronically (e-mail or SMS) / served",
        "success_rate": "served / (served + failed); cancelled dispatches are left out",
        "time_to_service": (
            "served_at (the legal instant of service) − the time the dispatch was created; "
            "median and 90th percentile, nearest-rank method (the value at rank ⌈p·n⌉ of the "
            "n sorted durations), in hours"
        ),
        "first_try_rate": (
            "served by an attempt of the first ladder step started for the dispatch / served"
        ),
        "period": (
            "a dispatch counts when its standing outcome (the latest of served, failed, "
            "cancelled; a service reversed or a failure resumed puts it back in progress, not "
            "counted) falls between from and to inclusive, in the court's time zone: the date of "
            "service for a served dispatch, the day the failure or cancellation was recorded "
            "otherwise. Weeks (ISO, from Monday) and months are those of that date. By channel: "
            "a served dispatch counts for the channel that served it, a failed or cancelled one "
            "for the channel of its last attempt. By clerk: the dispatch's owner as its last "
            "ownership event names it"
        ),
    },
    "zh-CN": {
        "e_service_usage_rate": (
            "电子送达使用率 = 以电子方式（电子邮件、短信）送达的件数 / 送达件数"
        ),
        "success_rate": "送达成功率 = 送达件数 /（送达件数 + 送达失败件数），撤回的不计",
        "time_to_service": (
            "送达用时 = 送达时间（法定送达时刻）− 送达任务创建时间；取中位数和第 90 百分位数，"
            "按最近秩法（n 个用时排序后第 ⌈p·n⌉ 个），单位小时"
        ),
        "first_try_rate": "首次送达率 = 由该任务启动的第一个送达步骤中的尝试送达的件数 / 送达件数",
        "period": (
            "送达任务的现行结果（送达、失败、撤回中最后记录的一个；送达被撤销或失败后恢复的，"
            "视为仍在进行，不计）落在起止日期之间（含首尾，按法院所在时区）即计入：已送达的按"
            "送达日期，其他按记录失败或撤回的日期。按周（ISO 周，自周一起）、按月均按该日期。"
            "按渠道：已送达的计入送达渠道，失败或撤回的计入其最后一次尝试的渠道。"
            "按书记员：以最后一次承办人事件所记的承办书记员为准"
        ),
    },
}


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
            errors.append({"field": name, "message": "must be a date, YYYY-MM-DD"})
        else:
            dates[name] = day
    if len(dates) == 2 and dates["from"] > dates["to"]:
        errors.append({"field": "to", "message": "must not be before from"})
    group_by = (values.get("group_by") or "channel").strip()
    if group_by not in GROUPINGS:
        errors.append({"field": "group_by", "message": f"must be one of {', '.join(GROUPINGS)}"})
    court = (values.get("court") or "").strip() or None
    if court is not None and courts is not None and court not in courts:
        errors.append({"field": "court", "message": "must be one of your courts"})
    if errors:
        raise ReportError(errors)
    return ReportRequest(dates["from"], dates["to"], group_by, court)


# --- The rows the database gives, and the pure computation ---


class OutcomeRow(NamedTuple):
    """A dispatch's standing outcome event, with the facts of its dispatch and attempts the
    figures use. (A named tuple: a year's report builds 100,000 of them.)"""

    dispatch_id: str
    court: str
    outcome: str  # the event type
    recorded_at: datetime  # when the outcome event happened
    created_at: datetime | None = None  # when the dispatch was created (dispatch_created)
    channel: str | None = None  # dispatch_served: the channel that served
    served_at: datetime | None = None  # dispatch_served: the legal instant of service
    served_step: int | None = None  # the step of the serving attempt
    first_step: int | None = None  # the first step started (the step of the first attempt)
    last_attempt_channel: str | None = None  # the channel of the dispatch's last attempt
    owner_id: str | None = None  # the last owner_assigned / owner_reassigned

    def outcome_date(self, zone: ZoneInfo) -> date:
        """The day the outcome counts on: the date of service, else the day it was recorded."""
        instant = self.served_at if self.outcome == SERVED and self.served_at else self.recorded_at
        return instant.astimezone(zone).date()


@dataclass(frozen=True)
class Figures:
    served: int
    failed: int
    cancelled: int
    served_electronically: int
    served_first_try: int
    e_service_usage_rate: float | None
    success_rate: float | None
    first_try_rate: float | None
    median_hours: float | None
    p90_hours: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "served": self.served,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "served_electronically": self.served_electronically,
            "served_first_try": self.served_first_try,
            "e_service_usage_rate": self.e_service_usage_rate,
            "success_rate": self.success_rate,
            "first_try_rate": self.first_try_rate,
            "time_to_service": {"median_hours": self.median_hours, "p90_hours": self.p90_hours},
        }


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
            "definitions": DEFINITIONS["en"],
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
    "e_service_usage_rate",
    "success_rate",
    "first_try_rate",
    "time_to_service_median_hours",
    "time_to_service_p90_hours",
)
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


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def nearest_rank(ordered: Sequence[float], percent: int) -> float | None:
    """The ``percent``-th percentile of sorted values by the nearest-rank method."""
    if not ordered:
        return None
    return ordered[max(1, math.ceil(percent * len(ordered) / 100)) - 1]


@dataclass
class _Tally:
    served: int = 0
    failed: int = 0
    cancelled: int = 0
    electronic: int = 0
    first_try: int = 0
    hours: list[float] = field(default_factory=list)

    def add(self, row: OutcomeRow) -> None:
        if row.outcome == FAILED:
            self.failed += 1
        elif row.outcome == CANCELLED:
            self.cancelled += 1
        else:
            self.served += 1
            self.electronic += row.channel in ELECTRONIC_CHANNELS
            self.first_try += row.served_step is not None and row.served_step == row.first_step
            if row.served_at is not None and row.created_at is not None:
                self.hours.append((row.served_at - row.created_at).total_seconds() / 3600)

    @classmethod
    def merged(cls, tallies: Iterable[_Tally]) -> _Tally:
        """The tally of all the rows ``tallies`` counted (the totals of the groups)."""
        total = cls()
        for t in tallies:
            total.served += t.served
            total.failed += t.failed
            total.cancelled += t.cancelled
            total.electronic += t.electronic
            total.first_try += t.first_try
            total.hours += t.hours
        return total

    def figures(self) -> Figures:
        ordered = sorted(self.hours)
        median, p90 = nearest_rank(ordered, 50), nearest_rank(ordered, 90)
        return Figures(
            served=self.served,
            failed=self.failed,
            cancelled=self.cancelled,
            served_electronically=self.electronic,
            served_first_try=self.first_try,
            e_service_usage_rate=_rate(self.electronic, self.served),
            success_rate=_rate(self.served, self.served + self.failed),
            first_try_rate=_rate(self.first_try, self.served),
            median_hours=None if median is None else round(median, 2),
            p90_hours=None if p90 is None else round(p90, 2),
        )


def _group_of(row: OutcomeRow, group_by: str, day: date) -> tuple[str, str]:
    """(key, label) of the group a counted dispatch falls in."""
    if group_by == "channel":
        channel = row.channel if row.outcome == SERVED else row.last_attempt_channel
        return (channel or NO_CHANNEL,) * 2
    if group_by == "court":
        return row.court, row.court
    if group_by == "clerk":
        return (row.owner_id or UNASSIGNED,) * 2
    if group_by == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}", (day - timedelta(days=day.weekday())).isoformat()
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
    tallies: dict[str, dict[tuple[str, str], _Tally]] = {by: {} for by in groupings}
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
                tally = groups[key] = _Tally()
            tally.add(row)
    names = owner_names or {}
    return {
        by: _report(replace(request, group_by=by), zone, groups, names)
        for by, groups in tallies.items()
    }


def _report(
    request: ReportRequest,
    zone: ZoneInfo,
    tallies: Mapping[tuple[str, str], _Tally],
    names: Mapping[str, str],
) -> Report:
    totals = _Tally.merged(tallies.values())  # every counted row is in one group
    groups = [
        Group(key, names.get(key, label), tally.figures())
        for (key, label), tally in tallies.items()
    ]
    groups.sort(key=lambda g: _order(request.group_by, g.key, g.label))
    return Report(request, zone.key, totals.figures(), groups)


# --- The queries ---
#
# One set-based statement, whatever the number of dispatches (none per dispatch): the outcomes
# since the period began (service_outcomes), joined, only to group by clerk, to the ownership
# events since the oldest of those dispatches was created (index-only on ix_events_owners); and
# then the owners' names.

_OWNERSHIP = events.alias("ownership")
_SINCE = service_outcomes.alias("since")


def _instant(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    """A time column as the driver hands it back where that is already an aware UTC datetime
    (asyncpg): the schema's per-value conversion costs ~0.1 s over a year's outcomes."""
    if dialect != "postgresql":
        return column
    return sa.type_coerce(column, sa.DateTime(timezone=True)).label(column.name)


@cache
def outcomes_statement(dialect: str, *, scoped: bool, owners: bool) -> sa.Select[Any]:
    """Every outcome since ``start`` of the dispatches in scope (all courts unless ``scoped``),
    as its projection row holds it (delivery/storage/outcomes.py): the dispatch, the event's
    seq, type and time, the channel (of the service, or of the last attempt of a failure or a
    cancellation), the date of service, the dispatch's court and creation, the serving step and
    the first step. With ``owners``, once per ownership event of the dispatch, whose seq and
    ``owner_id`` follow (None, None when it has none): joined rather than read apart, so that a
    year's ~100,000 ownership events are not sent back and decoded beside the outcomes."""
    o = service_outcomes.c
    columns = [
        o.dispatch_id,
        o.seq,
        o.type,
        _instant(o.occurred_at, dialect),
        o.channel,
        _instant(o.served_at, dialect),
        o.court,
        _instant(o.dispatch_created_at, dialect),
        o.served_step,
        o.first_step,
    ]
    source: sa.FromClause = service_outcomes
    if owners:
        w = _OWNERSHIP.c
        # Ownership is recorded at creation or later: the oldest creation bounds the scan.
        since = (
            sa.select(sa.func.min(_SINCE.c.dispatch_created_at))
            .where(_SINCE.c.occurred_at >= sa.bindparam("start"))
            .scalar_subquery()
        )
        mine = sa.and_(
            w.dispatch_id == o.dispatch_id, w.type.in_(OWNER_EVENTS), w.occurred_at >= since
        )
        source = source.outerjoin(_OWNERSHIP, mine)
        columns += [w.seq.label("owner_seq"), json_text(w.data, "owner_id").label("owner_id")]
    statement = sa.select(*columns).select_from(source)
    statement = statement.where(o.occurred_at >= sa.bindparam("start"))
    if scoped:
        statement = statement.where(o.court.in_(sa.bindparam("courts", expanding=True)))
    return statement


# The owners' names, asked once for the few owners rather than joined to every event.
SELECT_NAMES = sa.select(staff_users.c.id, staff_users.c.display_name).where(
    staff_users.c.id.in_(sa.bindparam("ids", expanding=True))
)


def _latest(rows: Iterable[Any], *, owners: bool) -> dict[str, Any]:
    """The row of the highest seq per dispatch (a dispatch's events are appended in order),
    for rows that begin (dispatch_id, seq) — with ``owners``, of the highest seq and then
    owner seq, the last two columns (the latest outcome with the latest owner)."""
    latest: dict[str, Any] = {}
    if owners:
        for row in rows:
            kept = latest.get(row[0])
            if kept is None or (row[1], row[-2] or 0) > (kept[1], kept[-2] or 0):
                latest[row[0]] = row
        return latest
    for row in rows:
        kept = latest.get(row[0])
        if kept is None or row[1] > kept[1]:
            latest[row[0]] = row
    return latest


def _start(request: ReportRequest, zone: ZoneInfo) -> datetime:
    """The instant the period begins: from's midnight in the zone. (Outcomes recorded after
    the period are fetched too: they decide which outcome stands.)"""
    return datetime.combine(request.start, datetime.min.time(), tzinfo=zone)


async def fetch_outcomes(
    conn: AsyncConnection,
    request: ReportRequest,
    zone: ZoneInfo,
    courts: Sequence[str] | None,
    *,
    owners: bool,
) -> tuple[list[OutcomeRow], dict[str, str]]:
    """The standing outcome rows of the dispatches of ``courts`` (None: every court), with
    their owners when ``owners`` (and the owners' display names)."""
    statement = outcomes_statement(conn.dialect.name, scoped=courts is not None, owners=owners)
    scope = {} if courts is None else {"courts": list(courts)}
    result = await conn.execute(statement, {"start": _start(request, zone), **scope})
    standing = _latest(result.all(), owners=owners)
    names: dict[str, str] = {}
    if owners:
        ids = {row.owner_id for row in standing.values()} - {None}
        found = dict((await conn.execute(SELECT_NAMES, {"ids": list(ids)})).all()) if ids else {}
        names = {i: found.get(i) or i for i in ids}
    # One channel column: the serving one for a service, the last attempt's otherwise.
    rows = [
        OutcomeRow(
            dispatch_id,
            court,
            outcome,
            recorded_at,
            created_at,
            channel,
            served_at,
            served_step,
            first_step,
            channel,
            owner[-1] if owner else None,  # (owner_seq, owner_id) when asked for
        )
        for (
            dispatch_id,
            _seq,
            outcome,
            recorded_at,
            channel,
            served_at,
            court,
            created_at,
            served_step,
            first_step,
            *owner,
        ) in standing.values()
    ]
    return rows, names


async def service_reports(
    engine: AsyncEngine,
    request: ReportRequest,
    zone: ZoneInfo,
    courts: Sequence[str] | None,
    groupings: Sequence[str],
) -> dict[str, Report]:
    """The report over ``courts`` (the caller's; None: every court, for the operator's CLI),
    narrowed to ``request.court`` when it names one, once per grouping in ``groupings`` — all
    from the same rows (the page shows its table, the weeks and the channels). One query, and
    two more (ownership events, the owners' names) when grouping by clerk."""
    if request.court is not None:
        courts = [request.court]
    with _collector_paused():
        async with engine.connect() as conn:
            conn = await conn.execution_options(**READ_ONLY)
            rows, names = await fetch_outcomes(
                conn, request, zone, courts, owners="clerk" in groupings
            )
        return compute_groupings(rows, request, zone, groupings, names)


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
    engine: AsyncEngine, request: ReportRequest, zone: ZoneInfo, courts: Sequence[str] | None
) -> Report:
    """The report as ``request`` groups it (see :func:`service_reports`)."""
    reports = await service_reports(engine, request, zone, courts, [request.group_by])
    return reports[request.group_by]
