"""What the success-rate reports read (delivery/services/reports.py shapes the figures).

The outcomes are read from ``service_outcomes``, the projection of the outcome events written
in the same transaction as each of them — never from counters: one row per event with the facts
of its data, its dispatch (court, creation) and the dispatch's attempts (steps, channel), checked
against the chain by a test (delivery/storage/outcomes.py). Each dispatch's latest outcome row
is marked ``standing`` and carries the dispatch's owner, both kept on write with the events that
change them (docs/decisions/0053): a report reads just those rows, recorded since the period
began, in the caller's courts — one set-based statement whatever the number of dispatches — and
a second statement reads the owners' names when grouping by clerk.
docs/decisions/0013-service-reports.md. On PostgreSQL, :func:`outcome_figures` has the database
count the groups too, so only the figures come back (docs/decisions/0049-reports-in-sql.md):
the counts and the time-to-service percentiles by two statements in one snapshot
(docs/decisions/0055), the counts from the tallies of the standing outcomes per local day the
database keeps with them (delivery/storage/outcome_tallies.py, docs/decisions/0060).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.domain import CANCELLED_EVENT as CANCELLED
from delivery.domain import ELECTRONIC_CHANNELS
from delivery.domain import FAILED_EVENT as FAILED
from delivery.domain import SERVED_EVENT as SERVED
from delivery.storage.engine import (
    CUSTOM_PLANS,
    NO_JIT,
    READ_ONLY,
    one_snapshot,
    planned_locally,
)
from delivery.storage.outcome_tallies import tallied_zone
from delivery.storage.schema import (
    outcome_tallies,
    outcome_tally_changes,
    service_outcomes,
    staff_users,
)

log = logging.getLogger(__name__)


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
    confirmed_address: bool = False  # served at an address from a signed confirmation form
    by_reply: bool = False  # served by the recipient's reply (OLR-31, 0042)

    def outcome_date(self, zone: ZoneInfo) -> date:
        """The day the outcome counts on: the date of service, else the day it was recorded."""
        instant = self.served_at if self.outcome == SERVED and self.served_at else self.recorded_at
        return instant.astimezone(zone).date()


def _instant(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    """A time column as the driver hands it back where that is already an aware UTC datetime
    (asyncpg): the schema's per-value conversion costs ~0.1 s over a year's outcomes."""
    if dialect != "postgresql":
        return column
    return sa.type_coerce(column, sa.DateTime(timezone=True)).label(column.name)


_O = service_outcomes.c


def _standing_since(statement: sa.Select[Any], *, scoped: bool) -> sa.Select[Any]:
    """``statement`` narrowed to the standing outcomes recorded since ``start`` (of the
    ``courts`` when ``scoped``). A dispatch's outcomes are recorded in seq order, so its
    standing one is recorded since ``start`` exactly when any of its outcomes is."""
    statement = statement.where(_O.standing, _O.occurred_at >= sa.bindparam("start"))
    if scoped:
        statement = statement.where(_O.court.in_(sa.bindparam("courts", expanding=True)))
    return statement


@cache
def outcomes_statement(dialect: str, *, scoped: bool) -> sa.Select[Any]:
    """The standing outcome of each dispatch in scope (all courts unless ``scoped``) recorded
    since ``start``, as its projection row holds it (delivery/storage/outcomes.py): the
    dispatch, the event's type and time, the channel (of the service, or of the last attempt of
    a failure or a cancellation), the date of service, the dispatch's court and creation, the
    serving step and the first step, whether the serving address was confirmed by the
    recipient and whether the recipient's reply served (migration 0014), and the dispatch's
    owner (migration 0018)."""
    columns = [
        _O.dispatch_id,
        _O.type,
        _instant(_O.occurred_at, dialect),
        _O.channel,
        _instant(_O.served_at, dialect),
        _O.court,
        _instant(_O.dispatch_created_at, dialect),
        _O.served_step,
        _O.first_step,
        _O.confirmed_address,
        _O.by_reply,
        _O.owner_id,
    ]
    return _standing_since(sa.select(*columns), scoped=scoped)


# The owners' names, asked once for the few owners rather than joined to every event.
SELECT_NAMES = sa.select(staff_users.c.id, staff_users.c.display_name).where(
    staff_users.c.id.in_(sa.bindparam("ids", expanding=True))
)


async def standing_outcomes(
    engine: AsyncEngine, start: datetime, courts: Sequence[str] | None, *, owners: bool
) -> tuple[list[OutcomeRow], dict[str, str]]:
    """The standing outcome rows of the dispatches of ``courts`` (None: every court) recorded
    since ``start``, with their owners' display names when ``owners``, read on a read-only
    connection."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        statement = outcomes_statement(conn.dialect.name, scoped=courts is not None)
        scope = {} if courts is None else {"courts": list(courts)}
        result = await conn.execute(statement, {"start": start, **scope})
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
                owner_id,
                bool(confirmed_address),
                bool(by_reply),
            )
            for (
                dispatch_id,
                outcome,
                recorded_at,
                channel,
                served_at,
                court,
                created_at,
                served_step,
                first_step,
                confirmed_address,
                by_reply,
                owner_id,
            ) in result.all()
        ]
        names: dict[str, str] = {}
        if owners:
            names = await _names(conn, {row.owner_id for row in rows} - {None})
    return rows, names


async def _names(conn: Any, ids: set[Any]) -> dict[str, str]:
    """The display names of the staff ``ids`` (an id stands for a name not found)."""
    if not ids:
        return {}
    found = dict((await conn.execute(SELECT_NAMES, {"ids": list(ids)})).all())
    return {i: found.get(i) or i for i in ids}


# --- The figures aggregated by PostgreSQL (docs/decisions/0049-reports-in-sql.md) ---


def aggregates_in_sql(engine: AsyncEngine) -> bool:
    """Whether the database computes the figures itself (:func:`outcome_figures`): PostgreSQL
    does; SQLite, which knows no time zone to date an outcome in the court's, hands back the
    standing outcomes (:func:`standing_outcomes`) for Python to count."""
    return engine.dialect.name == "postgresql"


class GroupFigures(NamedTuple):
    """The counts and time-to-service percentiles of one group of one grouping (``grouping``
    None: the totals). ``key``: the channel, court or owner (None: no channel, no owner), or
    the Monday of the week or the first day of the month, in the court's time zone."""

    grouping: str | None
    key: str | date | None
    served: int
    failed: int
    cancelled: int
    electronic: int
    first_try: int
    confirmed: int
    by_reply: int
    median: timedelta | None  # nearest rank, percentile_disc
    p90: timedelta | None


# The counts of :class:`GroupFigures`, named as the services' tally names them.
COUNTS = ("served", "failed", "cancelled", "electronic", "first_try", "confirmed", "by_reply")

# The units a report may group dates by, and the first day of the unit a day is in.
UNITS = ("week", "month")


def unit_start(unit: str, day: date) -> date:
    """The Monday of ``day``'s week, or the first of its month."""
    return day - timedelta(days=day.weekday()) if unit == "week" else day.replace(day=1)


def unit_starts(unit: str, first: date, last: date) -> list[date]:
    """The first days of the weeks or months from ``first``'s to ``last``'s, in order."""
    starts = [unit_start(unit, first)]
    while True:
        following = unit_start(unit, starts[-1] + timedelta(days=31 if unit == "month" else 7))
        if following > last:
            return starts
        starts.append(following)


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant ``day`` begins in ``zone``: an instant's date there is ``day`` or later
    exactly when the instant is this or later."""
    return datetime.combine(day, time.min, tzinfo=zone)


_INSTANTS = ARRAY(sa.DateTime(timezone=True))

# The groupings whose keys are few at any scale (the channels, the weeks or months of a
# period): their cells may be counted crossed with each other's. A court's or a clerk's keys
# grow with the province, so a grouping by them is counted in cells of its own.
FEW_KEYS = frozenset({"channel", *UNITS})

# How a report's transaction has PostgreSQL plan (docs/decisions/0055, ``planned_locally``):
# no JIT compilation
# (a year's statements cost past ``jit_above_cost``; compiling takes longer than it saves), and
# parallel workers for the scan and the sort of the period's rows (the default costs keep the
# sort of the durations serial: at a million dispatches it then takes twice as long).
REPORT_PLANNING = {
    **NO_JIT,
    **CUSTOM_PLANS,
    "parallel_setup_cost": "10",
    "parallel_tuple_cost": "0.001",
    "work_mem": "32MB",
}


def _bucket_numbers(unit: str) -> sa.TableValuedAlias:
    """The numbers (from 1) of the buckets of ``{unit}_starts``: ``generate_series(1,
    {unit}_count)``, one per week or month of the period."""
    count = sa.bindparam(f"{unit}_count", type_=sa.Integer)
    series = sa.func.generate_series(1, count).table_valued("n")
    return series.render_derived(name=f"{unit}_numbers")


def _keyed(groupings: tuple[str, ...]) -> tuple[list[sa.ColumnElement[Any]], sa.FromClause]:
    """The key of each of ``groupings`` and the rows that carry them: the channel, the court,
    the owner, or for a week or a month the number (from 1) of the bucket of ``week_starts`` or
    ``month_starts`` (the instants its units begin) that holds the instant the outcome is
    dated by.

    A bucket's number is taken from a joined series of the period's bucket numbers rather than
    grouped by as ``width_bucket(dated_at, …)`` itself: PostgreSQL estimates an expression of
    ``dated_at`` to have as many values as ``dated_at`` (~700,000 groups in a year at a million
    dispatches), so it sorted every row in one process (~1 s); the series' column has as many
    values as the period has weeks, so the workers hash the counts in parallel (~0.5 s,
    docs/decisions/0056)."""
    rows: sa.FromClause = service_outcomes
    keys: dict[str, sa.ColumnElement[Any]] = {
        "channel": _O.channel,
        "court": _O.court,
        "clerk": _O.owner_id,
    }
    for unit in UNITS:
        if unit in groupings:
            numbers = _bucket_numbers(unit)
            bucket = sa.func.width_bucket(
                _O.dated_at, sa.bindparam(f"{unit}_starts", type_=_INSTANTS)
            )
            rows = rows.join(numbers, numbers.c.n == bucket)
            keys[unit] = numbers.c.n
    return [keys[by] for by in groupings], rows


def _dated_in_period(statement: sa.Select[Any], *types: str, scoped: bool) -> sa.Select[Any]:
    """``statement`` narrowed to the standing outcomes of ``types`` dated (the instant of
    service, else of recording) from the instant ``start`` until ``until_instant``: the
    midnights in the court's zone that begin the period's first day and the day after its
    last, so no row's date is computed."""
    statement = statement.where(
        _O.type.in_(types),
        _O.dated_at >= sa.bindparam("start"),
        _O.dated_at < sa.bindparam("until_instant"),
    )
    return _standing_since(statement, scoped=scoped)


@cache
def counts_statement(*, scoped: bool, groupings: tuple[str, ...]) -> sa.Select[Any]:
    """The outcomes that count — served, failed or cancelled — counted per cell: the keys of
    all ``groupings`` together, the outcome, and whether a service was electronic, at the
    first step, at a confirmed address, by the recipient's reply (NULL counts as no). One
    ``count(*)`` per cell of a few dozen values per key, which PostgreSQL hashes in parallel
    workers; seven filtered counts per group cost a third more per row. The caller adds the
    cells up per grouping (:func:`_cells_added`)."""
    facts = [
        _O.type,
        _O.channel.in_(ELECTRONIC_CHANNELS),
        _O.served_step == _O.first_step,
        _O.confirmed_address,
        _O.by_reply,
    ]
    keys, rows = _keyed(groupings)
    keyed = [*keys, *facts]
    cells = sa.select(*keyed, sa.func.count()).select_from(rows).group_by(*keyed)
    return _dated_in_period(cells, SERVED, FAILED, CANCELLED, scoped=scoped)


@cache
def durations_statement(*, scoped: bool, groupings: tuple[str, ...]) -> sa.Select[Any]:
    """The median and the 90th percentile (nearest rank, ``percentile_disc``) of the time to
    service of the standing services dated in the period, per group of each of ``groupings``
    and for all (GROUPING SETS): both from one sort of each group's durations — whole
    microseconds, a bigint, which sorts in half the time an interval does. Only the services'
    key and duration are read and sorted (docs/decisions/0055)."""
    keyed, rows = _keyed(groupings)
    percentiles = sa.func.percentile_disc(sa.literal_column("ARRAY[0.5, 0.9]"))
    timing = percentiles.within_group(_O.time_to_service_us)
    statement: sa.Select[Any] = sa.select(
        *keyed,
        *(sa.func.grouping(k) for k in keyed),
        sa.type_coerce(timing, ARRAY(sa.BigInteger())).label("percentiles"),
    ).select_from(rows)
    statement = _dated_in_period(statement, SERVED, scoped=scoped)
    return statement.group_by(sa.func.grouping_sets(*(sa.tuple_(k) for k in keyed), sa.tuple_()))


# The cells with the changes logged since the last fold (docs/decisions/0060): a cell's count
# is the sum of its rows in both.
_TALLIED = sa.union_all(
    sa.select(*outcome_tallies.c),
    sa.select(*(outcome_tally_changes.c[c.name] for c in outcome_tallies.c)),
).subquery("tallied")
_T = _TALLIED.c


@cache
def tallied_counts_statement(*, scoped: bool, groupings: tuple[str, ...]) -> sa.Select[Any]:
    """The cells of :func:`counts_statement`, counted from the tallies and the changes logged
    since their last fold (docs/decisions/0060), kept in the report's zone: the standing
    outcomes dated from ``first`` to ``last`` there and recorded since ``first`` are the cells
    of those dates, each holding how many. A week's or a month's key is the number (from 1) of
    the bucket of ``{unit}_days`` that holds the cell's date. A cell left empty (its outcomes
    replaced or reassigned) is no cell."""
    keys: dict[str, sa.ColumnElement[Any]] = {
        "channel": sa.func.nullif(_T.channel, ""),
        "court": _T.court,
        "clerk": sa.func.nullif(_T.owner_id, ""),
        **{
            unit: sa.func.width_bucket(
                _T.dated_on, sa.bindparam(f"{unit}_days", type_=ARRAY(sa.Date()))
            )
            for unit in UNITS
        },
    }
    facts = [
        _T.type,
        _T.channel.in_(ELECTRONIC_CHANNELS),
        _T.first_try,
        _T.confirmed_address,
        _T.by_reply,
    ]
    keyed = [*(keys[by] for by in groupings), *facts]
    statement = sa.select(*keyed, sa.func.sum(_T.n)).where(
        _T.type.in_((SERVED, FAILED, CANCELLED)),
        _T.dated_on >= sa.bindparam("first"),
        _T.dated_on <= sa.bindparam("last"),
        _T.recorded_on >= sa.bindparam("first"),
    )
    if scoped:
        statement = statement.where(_T.court.in_(sa.bindparam("courts", expanding=True)))
    return statement.group_by(*keyed).having(sa.func.sum(_T.n) > 0)


def counted_together(groupings: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The groupings whose cells one counting statement counts (:func:`tallied_counts_statement`
    or :func:`counts_statement`), in order: those with few keys together, each other one apart
    (a product of a province's clerks with the weeks and the channels would be millions of
    cells)."""
    few = tuple(by for by in groupings if by in FEW_KEYS)
    return ([few] if few else []) + [(by,) for by in groupings if by not in FEW_KEYS]


Durations = tuple[timedelta | None, timedelta | None]
NO_TIME: Durations = (None, None)  # a group without a service, or not timed


def _durations(percentiles: list[int] | None) -> Durations:
    """The median and the 90th percentile, given in microseconds (None: nothing served)."""
    if percentiles is None:
        return None, None
    median, p90 = percentiles
    return timedelta(microseconds=median), timedelta(microseconds=p90)


async def outcome_figures(
    engine: AsyncEngine,
    first: date,
    last: date,
    zone: ZoneInfo,
    courts: Sequence[str] | None,
    groupings: Sequence[str],
    untimed: Collection[str] = (),
) -> tuple[list[GroupFigures], dict[str, str]]:
    """The figures of every group of ``groupings`` and the totals (:class:`GroupFigures`), of
    the dispatches of ``courts`` (None: every court) whose standing outcome, recorded since
    ``first`` began in ``zone``, is dated from ``first`` to ``last`` there; with the owners'
    display names when grouping by clerk. PostgreSQL only (:func:`aggregates_in_sql`).

    The counts come from :func:`tallied_counts_statement` — or, when the tallies are not kept
    in ``zone``, :func:`counts_statement` — once per :func:`counted_together` set,
    the percentiles from one :func:`durations_statement` over the groupings not ``untimed``
    (the report page's charts show rates and counts only: their groups carry None), all in one
    snapshot, so the charts add up to the table's totals."""
    starts = {unit: unit_starts(unit, first, last) for unit in UNITS}
    parameters: dict[str, Any] = {
        "start": midnight(first, zone),
        "until_instant": midnight(last + timedelta(days=1), zone),
        "first": first,
        "last": last,
        **{f"{unit}_starts": [midnight(d, zone) for d in starts[unit]] for unit in UNITS},
        **{f"{unit}_days": starts[unit] for unit in UNITS},
        **{f"{unit}_count": len(starts[unit]) for unit in UNITS},
    }
    if courts is not None:
        parameters["courts"] = list(courts)
    ordered = tuple(dict.fromkeys(groupings))
    timed = tuple(by for by in ordered if by not in untimed)
    scoped = courts is not None
    counts: dict[tuple[str | None, Any], list[int]] = {}
    durations: dict[tuple[str | None, Any], Durations] = {}
    async with engine.connect() as conn:
        conn = await one_snapshot(await conn.execution_options(**READ_ONLY))
        await planned_locally(conn, REPORT_PLANNING)
        cells = await _cells_statement(conn, zone)
        for together in counted_together(ordered):
            statement = cells(scoped=scoped, groupings=together)
            rows = (await conn.execute(statement, parameters)).all()
            counts.update(_cells_added(rows, together, starts))
        if timed:
            statement = durations_statement(scoped=scoped, groupings=timed)
            rows = (await conn.execute(statement, parameters)).all()
            durations = _durations_of(rows, timed, starts)
        ids = {key for grouping, key in counts if grouping == "clerk" and isinstance(key, str)}
        names = await _names(conn, ids)
    found = [
        GroupFigures._make((grouping, key, *counted, *durations.get((grouping, key), NO_TIME)))
        for (grouping, key), counted in counts.items()
    ]
    return found, names


async def _cells_statement(conn: AsyncConnection, zone: ZoneInfo) -> Callable[..., sa.Select[Any]]:
    """How the report counts its cells: from the tallies when they are kept in its zone, else
    from the standing outcomes themselves (the same cells, ~0.3 s more at a million), saying
    so: the operator's ``songda db upgrade`` tallies them in the configured zone."""
    kept_in = await tallied_zone(conn)
    if kept_in == zone.key:
        return tallied_counts_statement
    log.warning("report counted from the outcomes", extra={"zone": zone.key, "tallied": kept_in})
    return counts_statement


def _cells_added(
    rows: Sequence[Any], groupings: tuple[str, ...], starts: dict[str, list[date]]
) -> dict[tuple[str | None, Any], list[int]]:
    """The counts (in :data:`COUNTS`' order) of each group of ``groupings`` and of the totals
    (grouping None), from the cells of a :func:`counts_statement`."""
    sums: dict[tuple[str | None, Any], list[int]] = {}
    width = len(groupings)
    for row in rows:
        keys, (outcome, electronic, first_try, confirmed, by_reply, n) = row[:width], row[width:]
        served = outcome == SERVED
        cell = (
            n if served else 0,
            n if outcome == FAILED else 0,
            n if outcome == CANCELLED else 0,
            n if served and electronic else 0,
            n if served and first_try else 0,
            n if served and confirmed else 0,
            n if served and by_reply else 0,
        )
        for grouping, key in (*zip(groupings, keys, strict=True), (None, None)):
            found = sums.setdefault((grouping, _key(grouping, key, starts)), [0] * len(COUNTS))
            for i, count in enumerate(cell):
                found[i] += count
    return sums


def _durations_of(
    rows: Sequence[Any], groupings: tuple[str, ...], starts: dict[str, list[date]]
) -> dict[tuple[str | None, Any], Durations]:
    """The median and p90 of each group of a :func:`durations_statement`'s rows: per row, the
    grouping whose key is present (none: the totals), the key and the percentiles."""
    found = {}
    width = len(groupings)
    for row in rows:
        keys, grouped, percentiles = row[:width], row[width : 2 * width], row[-1]
        present = [i for i, g in enumerate(grouped) if g == 0]
        grouping = groupings[present[0]] if present else None
        key = _key(grouping, keys[present[0]], starts) if present else None
        found[(grouping, key)] = _durations(percentiles)
    return found


def _key(grouping: str | None, key: Any, starts: dict[str, list[date]]) -> Any:
    """A group's key as the reports name it: for a week or a month, the first day of the
    unit whose bucket number (from 1) the statement gave."""
    return starts[grouping][key - 1] if grouping in UNITS else key
