"""What the success-rate reports read (delivery/services/reports.py shapes the figures).

The outcomes are read from the evidence chain, never from columns of the dispatch row that
other code updates (a counter can drift; the events are the record): from ``service_outcomes``,
the projection of the outcome events written in the same transaction as each of them, one row
per event with the facts of its data, its dispatch (court, creation) and the dispatch's attempts
(steps, channel) — delivery/storage/outcomes.py. One set-based statement, whatever the number of
dispatches (none per dispatch), fetches the outcomes of the caller's courts recorded since the
period began; the latest per dispatch is its *standing* outcome (:class:`OutcomeRow`). Only to
group by clerk is it joined to the ownership events since the oldest of those dispatches was
created (index-only on ix_events_owners), and a second statement reads the owners' names.
docs/decisions/0013-service-reports.md. On PostgreSQL, :func:`outcome_figures` has the database
do the same and count the groups too, so only the figures come back
(docs/decisions/0049-reports-in-sql.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncEngine

from delivery.domain import CANCELLED_EVENT as CANCELLED
from delivery.domain import ELECTRONIC_CHANNELS
from delivery.domain import FAILED_EVENT as FAILED
from delivery.domain import SERVED_EVENT as SERVED
from delivery.storage.engine import READ_ONLY
from delivery.storage.json_text import json_text
from delivery.storage.schema import events, service_outcomes, staff_users
from delivery.vocabulary import EventType

OWNER_EVENTS = (EventType.OWNER_ASSIGNED, EventType.OWNER_REASSIGNED)


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
    the first step, whether the serving address was confirmed by the recipient and whether
    the recipient's reply served (migration 0014). With ``owners``, once per ownership event of
    the dispatch, whose seq and ``owner_id`` follow (None, None when it has none): joined rather
    than read apart, so that a year's ~100,000 ownership events are not sent back and decoded
    beside the outcomes."""
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
        o.confirmed_address,
        o.by_reply,
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


async def standing_outcomes(
    engine: AsyncEngine, start: datetime, courts: Sequence[str] | None, *, owners: bool
) -> tuple[list[OutcomeRow], dict[str, str]]:
    """The standing outcome rows of the dispatches of ``courts`` (None: every court) among the
    outcomes recorded since ``start``, with their owners when ``owners`` (and the owners'
    display names), read on a read-only connection."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        dialect = conn.dialect.name
        statement = outcomes_statement(dialect, scoped=courts is not None, owners=owners)
        scope = {} if courts is None else {"courts": list(courts)}
        result = await conn.execute(statement, {"start": start, **scope})
        standing = _latest(result.all(), owners=owners)
        names: dict[str, str] = {}
        if owners:
            ids = {row.owner_id for row in standing.values()} - {None}
            found = (
                dict((await conn.execute(SELECT_NAMES, {"ids": list(ids)})).all()) if ids else {}
            )
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
            bool(confirmed_address),
            bool(by_reply),
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
            confirmed_address,
            by_reply,
            *owner,
        ) in standing.values()
    ]
    return rows, names


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

_OWNERS = events.alias("owners")


def _standing(scoped: bool) -> sa.CTE:
    """The standing outcome of each dispatch in scope among those recorded since ``start``:
    its latest (highest seq) — as :func:`_latest` keeps it."""
    o = service_outcomes.c
    statement = (
        sa.select(
            o.dispatch_id,
            o.type,
            o.occurred_at,
            o.served_at,
            o.channel,
            o.court,
            o.dispatch_created_at,
            o.served_step,
            o.first_step,
            o.confirmed_address,
            o.by_reply,
        )
        .where(o.occurred_at >= sa.bindparam("start"))
        .ext(distinct_on(o.dispatch_id))
        .order_by(o.dispatch_id, o.seq.desc())
    )
    if scoped:
        statement = statement.where(o.court.in_(sa.bindparam("courts", expanding=True)))
    return statement.cte("standing")


def _owners() -> sa.CTE:
    """Each dispatch's owner as its last ownership event names it, among the ownership events
    since the oldest creation of the outcomes read (ownership is recorded at creation or later;
    index-only on ix_events_owners)."""
    w, s = _OWNERS.c, _SINCE.c
    since = (
        sa.select(sa.func.min(s.dispatch_created_at))
        .where(s.occurred_at >= sa.bindparam("start"))
        .scalar_subquery()
    )
    return (
        sa.select(w.dispatch_id, json_text(w.data, "owner_id").label("owner_id"))
        .where(w.type.in_(OWNER_EVENTS), w.occurred_at >= since)
        .ext(distinct_on(w.dispatch_id))
        .order_by(w.dispatch_id, w.seq.desc())
        .cte("owners")
    )


@cache
def figures_statement(*, scoped: bool, groupings: tuple[str, ...]) -> sa.Select[Any]:
    """The counts and percentiles per group of each of ``groupings`` and for all (GROUPING
    SETS: one pass over the counted outcomes), of the standing outcomes that count — served,
    failed or cancelled — dated (the date of service, else the day recorded, in the zone
    ``zone``) from ``first`` to ``last``."""
    standing = _standing(scoped)
    s = standing.c
    instant = sa.case(
        (sa.and_(s.type == SERVED, s.served_at.is_not(None)), s.served_at), else_=s.occurred_at
    )
    day = sa.cast(sa.func.timezone(sa.bindparam("zone", type_=sa.String), instant), sa.Date)

    def first_of(unit: str) -> sa.ColumnElement[Any]:
        return sa.cast(sa.func.date_trunc(sa.literal_column(f"'{unit}'"), day), sa.Date)

    keys: dict[str, sa.ColumnElement[Any]] = {
        "channel": s.channel,
        "court": s.court,
        "week": first_of("week"),
        "month": first_of("month"),
    }
    source: sa.FromClause = standing
    if "clerk" in groupings:
        owners = _owners()
        source = source.outerjoin(owners, owners.c.dispatch_id == s.dispatch_id)
        keys["clerk"] = owners.c.owner_id
    duration = sa.type_coerce(s.served_at, sa.DateTime(timezone=True)) - sa.type_coerce(
        s.dispatch_created_at, sa.DateTime(timezone=True)
    )
    # Each counted outcome's keys and facts computed once (MATERIALIZED), not once per
    # grouping set's sort.
    counted = (
        sa.select(
            s.type,
            s.channel,
            (s.served_step == s.first_step).label("first_try"),
            s.confirmed_address,
            s.by_reply,
            sa.type_coerce(duration, sa.Interval()).label("duration"),
            *(keys[by].label(f"key_{by}") for by in groupings if by != "channel"),
        )
        .select_from(source)
        .where(
            s.type.in_((SERVED, FAILED, CANCELLED)),
            day.between(sa.bindparam("first", type_=sa.Date), sa.bindparam("last", type_=sa.Date)),
        )
        .cte("counted")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    c = counted.c
    keyed = [(c.channel if by == "channel" else c[f"key_{by}"]) for by in groupings]
    served_c = c.type == SERVED

    def percentile(fraction: str) -> sa.ColumnElement[Any]:
        within = sa.func.percentile_disc(sa.literal_column(fraction)).within_group(c.duration)
        return sa.type_coerce(within.filter(served_c), sa.Interval())

    return sa.select(
        *keyed,
        *(sa.func.grouping(k) for k in keyed),
        sa.func.count().filter(served_c).label("served"),
        sa.func.count().filter(c.type == FAILED).label("failed"),
        sa.func.count().filter(c.type == CANCELLED).label("cancelled"),
        sa.func.count().filter(served_c, c.channel.in_(ELECTRONIC_CHANNELS)).label("electronic"),
        sa.func.count().filter(served_c, c.first_try).label("first_try"),
        sa.func.count().filter(served_c, c.confirmed_address).label("confirmed"),
        sa.func.count().filter(served_c, c.by_reply).label("by_reply"),
        percentile("0.5").label("median"),
        percentile("0.9").label("p90"),
    ).group_by(sa.func.grouping_sets(*(sa.tuple_(k) for k in keyed), sa.tuple_()))


async def outcome_figures(
    engine: AsyncEngine,
    start: datetime,
    first: date,
    last: date,
    zone: str,
    courts: Sequence[str] | None,
    groupings: Sequence[str],
) -> tuple[list[GroupFigures], dict[str, str]]:
    """The figures of every group of ``groupings`` and the totals (:class:`GroupFigures`), of
    the dispatches of ``courts`` (None: every court) whose standing outcome, among those
    recorded since ``start``, is dated from ``first`` to ``last`` in ``zone``; with the owners'
    display names when grouping by clerk. PostgreSQL only (:func:`aggregates_in_sql`)."""
    ordered = tuple(dict.fromkeys(groupings))
    statement = figures_statement(scoped=courts is not None, groupings=ordered)
    scope = {} if courts is None else {"courts": list(courts)}
    parameters = {"start": start, "first": first, "last": last, "zone": zone, **scope}
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        found: list[GroupFigures] = []
        for row in (await conn.execute(statement, parameters)).all():
            keys, grouped, counts = (
                row[: len(ordered)],
                row[len(ordered) : 2 * len(ordered)],
                row[2 * len(ordered) :],
            )
            present = [i for i, g in enumerate(grouped) if g == 0]
            grouping = ordered[present[0]] if present else None
            key = keys[present[0]] if present else None
            found.append(GroupFigures(grouping, key, *counts))
        names: dict[str, str] = {}
        ids = {f.key for f in found if f.grouping == "clerk" and isinstance(f.key, str)}
        if ids:
            known = dict((await conn.execute(SELECT_NAMES, {"ids": list(ids)})).all())
            names = {i: known.get(i) or i for i in ids}
    return found, names
