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
count the groups too, so only the figures come back (docs/decisions/0049-reports-in-sql.md).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from delivery.domain import CANCELLED_EVENT as CANCELLED
from delivery.domain import ELECTRONIC_CHANNELS
from delivery.domain import FAILED_EVENT as FAILED
from delivery.domain import SERVED_EVENT as SERVED
from delivery.storage.engine import READ_ONLY
from delivery.storage.schema import service_outcomes, staff_users


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


@cache
def figures_statement(*, scoped: bool, groupings: tuple[str, ...], timed: bool) -> sa.Select[Any]:
    """The figures of the standing outcomes that count — served, failed or cancelled — dated
    (the instant of service, else of recording) from the instant ``start`` until
    ``until_instant``: the midnights in the court's zone that begin the period's first day and
    the day after its last, so no row's date is computed. A week or a month is the number of
    the bucket of ``week_starts`` or ``month_starts`` (the instants its units begin) that holds
    that instant.

    ``timed``: the counts and the time-to-service percentiles per group of each of
    ``groupings`` and for all (GROUPING SETS: one pass over the counted outcomes). Otherwise
    the counts only, per cell of all the groupings' keys together (a few hundred cells, which
    PostgreSQL hashes instead of sorting the rows once per grouping): the caller adds the
    cells up per grouping (:func:`_cells_added`)."""
    instant = _O.dated_at

    def bucket(unit: str) -> sa.ColumnElement[Any]:
        return sa.func.width_bucket(instant, sa.bindparam(f"{unit}_starts", type_=_INSTANTS))

    keys: dict[str, sa.ColumnElement[Any]] = {
        "channel": _O.channel,
        "court": _O.court,
        "clerk": _O.owner_id,
        **{unit: bucket(unit) for unit in UNITS},
    }
    keyed = [keys[by] for by in groupings]
    served = _O.type == SERVED
    counts = [
        sa.func.count().filter(served).label("served"),
        sa.func.count().filter(_O.type == FAILED).label("failed"),
        sa.func.count().filter(_O.type == CANCELLED).label("cancelled"),
        sa.func.count().filter(served, _O.channel.in_(ELECTRONIC_CHANNELS)).label("electronic"),
        sa.func.count().filter(served, _O.served_step == _O.first_step).label("first_try"),
        sa.func.count().filter(served, _O.confirmed_address).label("confirmed"),
        sa.func.count().filter(served, _O.by_reply).label("by_reply"),
    ]
    counted = [
        _O.type.in_((SERVED, FAILED, CANCELLED)),
        instant >= sa.bindparam("start"),
        instant < sa.bindparam("until_instant"),
    ]
    if not timed:
        cells = sa.select(*keyed, *counts).where(*counted).group_by(*keyed)
        return _standing_since(cells, scoped=scoped)
    # Both percentiles from one sort of each group's durations (whole microseconds: a bigint
    # sorts in half the time an interval does).
    percentiles = sa.func.percentile_disc(sa.literal_column("ARRAY[0.5, 0.9]"))
    timing = percentiles.within_group(_O.time_to_service_us).filter(served)
    statement: sa.Select[Any] = sa.select(
        *keyed,
        *(sa.func.grouping(k) for k in keyed),
        *counts,
        sa.type_coerce(timing, ARRAY(sa.BigInteger())).label("percentiles"),
    ).where(*counted)
    statement = _standing_since(statement, scoped=scoped)
    return statement.group_by(sa.func.grouping_sets(*(sa.tuple_(k) for k in keyed), sa.tuple_()))


def _durations(percentiles: list[int] | None) -> tuple[timedelta | None, timedelta | None]:
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

    The groups of the ``untimed`` groupings have counts and no percentiles (None): a second
    statement counts them without sorting a year's durations once more (the report page's
    charts show rates and counts only)."""
    starts = {unit: unit_starts(unit, first, last) for unit in UNITS}
    begins = midnight(first, zone)
    parameters: dict[str, Any] = {
        "start": begins,
        "until_instant": midnight(last + timedelta(days=1), zone),
        **{f"{unit}_starts": [midnight(d, zone) for d in starts[unit]] for unit in UNITS},
    }
    if courts is not None:
        parameters["courts"] = list(courts)
    ordered = tuple(dict.fromkeys(groupings))
    timed = tuple(by for by in ordered if by not in untimed)
    counted = tuple(by for by in ordered if by in untimed)
    scoped = courts is not None
    found: list[GroupFigures] = []
    async with engine.connect() as conn:
        # One snapshot for both statements: the charts add up to the table's totals.
        conn = await conn.execution_options(**READ_ONLY, isolation_level="REPEATABLE READ")
        if timed:
            statement = figures_statement(scoped=scoped, groupings=timed, timed=True)
            rows = (await conn.execute(statement, parameters)).all()
            found += _figures_of(rows, timed, starts)
        if counted:
            statement = figures_statement(scoped=scoped, groupings=counted, timed=False)
            rows = (await conn.execute(statement, parameters)).all()
            # The totals once, with their percentiles when a timed grouping was asked for.
            found += [f for f in _cells_added(rows, counted, starts) if not timed or f.grouping]
        ids = {f.key for f in found if f.grouping == "clerk" and isinstance(f.key, str)}
        names = await _names(conn, ids)
    return found, names


def _cells_added(
    rows: Sequence[Any], groupings: tuple[str, ...], starts: dict[str, list[date]]
) -> list[GroupFigures]:
    """The :class:`GroupFigures` (no percentiles) of each of ``groupings`` and the totals,
    from the counts per cell of all their keys (an untimed :func:`figures_statement`)."""
    sums: dict[tuple[str | None, Any], list[int]] = {}
    for row in rows:
        keys, counts = row[: len(groupings)], row[len(groupings) :]
        for grouping, key in (*zip(groupings, keys, strict=True), (None, None)):
            found = sums.setdefault((grouping, _key(grouping, key, starts)), [0] * len(counts))
            for i, count in enumerate(counts):
                found[i] += count
    return [
        GroupFigures._make((grouping, key, *counts, None, None))
        for (grouping, key), counts in sums.items()
    ]


def _figures_of(
    rows: Sequence[Any], groupings: tuple[str, ...], starts: dict[str, list[date]]
) -> list[GroupFigures]:
    """The :class:`GroupFigures` of a :func:`figures_statement`'s rows: per row, the grouping
    whose key is present (none: the totals), the key (a week's or a month's first day for its
    bucket's number, from 1), the counts and the percentiles."""
    found = []
    for row in rows:
        keys, grouped = row[: len(groupings)], row[len(groupings) : 2 * len(groupings)]
        counts, percentiles = row[2 * len(groupings) : -1], row[-1]
        present = [i for i, g in enumerate(grouped) if g == 0]
        grouping = groupings[present[0]] if present else None
        key = _key(grouping, keys[present[0]], starts) if present else None
        found.append(GroupFigures._make((grouping, key, *counts, *_durations(percentiles))))
    return found


def _key(grouping: str | None, key: Any, starts: dict[str, list[date]]) -> Any:
    """A group's key as the reports name it: for a week or a month, the first day of the
    unit whose bucket number (from 1) the statement gave."""
    return starts[grouping][key - 1] if grouping in UNITS else key
