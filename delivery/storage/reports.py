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
docs/decisions/0013-service-reports.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

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
