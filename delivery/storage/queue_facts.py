"""The facts the clerk's queue shows beside each dispatch of a page (delivery/services/
clerk_queue.py): one batched query per kind of fact for the whole page, never one per row; and
the dispatches that may need a person, for the "needs action" view and its count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.domain import OPEN_ATTEMPT_STATES, OPEN_DISPATCH_STATES, Dispatch, DispatchState
from delivery.storage import checkpoint_timestamps as stamps
from delivery.storage.id_lists import among
from delivery.storage.outbox import DELIVERY_FAILED
from delivery.storage.queries import (
    OPEN_NOTICE_ATTEMPT_STATES,
    DispatchFilter,
    dispatch_conditions,
)
from delivery.storage.rows import dispatch_from_row
from delivery.storage.schema import (
    attempts,
    checkpoint_timestamps,
    dispatches,
    events,
    notices,
    webhook_deliveries,
)
from delivery.vocabulary import NoticeState


async def open_attempts(conn: AsyncConnection, ids: list[str]) -> Sequence[Any]:
    """(dispatch id, channel, state, reason) of the dispatches' open attempts, oldest first."""
    open_states = [s.value for s in OPEN_ATTEMPT_STATES]
    rows = await conn.execute(
        sa.select(attempts.c.dispatch_id, attempts.c.channel, attempts.c.state, attempts.c.reason)
        .where(among(attempts.c.dispatch_id, ids), attempts.c.state.in_(open_states))
        .order_by(attempts.c.id)
    )
    return rows.all()


async def latest_events(
    conn: AsyncConnection, ids: list[str], types: Sequence[str]
) -> Sequence[Any]:
    """(dispatch id, type, seq of the latest) of each of ``types`` the dispatches recorded."""
    rows = await conn.execute(
        sa.select(events.c.dispatch_id, events.c.type, sa.func.max(events.c.seq))
        .where(among(events.c.dispatch_id, ids), events.c.type.in_(types))
        .group_by(events.c.dispatch_id, events.c.type)
    )
    return rows.all()


async def notices_in_state(conn: AsyncConnection, ids: list[str], state: str) -> Sequence[Any]:
    """(dispatch id, notice id) of the notices in ``state`` of the dispatches' open
    public-notice attempts."""
    rows = await conn.execute(
        sa.select(notices.c.dispatch_id, notices.c.id)
        .join(attempts, attempts.c.id == notices.c.attempt_id)
        .where(
            among(notices.c.dispatch_id, ids),
            notices.c.state == state,
            attempts.c.state.in_(OPEN_NOTICE_ATTEMPT_STATES),
        )
    )
    return rows.all()


async def failed_deliveries(conn: AsyncConnection, ids: list[str]) -> Sequence[Any]:
    """(dispatch id, how many) of the dispatches' webhook deliveries that failed."""
    w = webhook_deliveries.c
    rows = await conn.execute(
        sa.select(w.dispatch_id, sa.func.count())
        .where(among(w.dispatch_id, ids), w.state == DELIVERY_FAILED)
        .group_by(w.dispatch_id)
    )
    return rows.all()


@dataclass(frozen=True)
class NeedsActionFacts:
    """What makes a dispatch need a person, as the clerk's queue defines it (its codes)."""

    now: datetime
    flag_before: datetime  # a checkpoint without its token made at or before this is overdue
    open_flag_events: Sequence[str]  # flags while the dispatch is open (at risk)
    # (a flag event, the event that clears it): a blocked certificate until one is issued
    cleared_flags: Sequence[tuple[str, str]]
    waiting_reason: str  # an open attempt waiting with this reason (channel unavailable)
    resumable_failures: Sequence[str]


@dataclass(frozen=True)
class Candidate:
    """A dispatch that may need a person, with what the step window's check needs (the
    policy counts it in court days, which the database cannot)."""

    id: str
    state: str
    court: str
    policy: str
    step_index: int | None
    step_started_at: datetime | None
    # One of the flags the database decides holds; otherwise only the step's window may have
    # passed (its timer did), which the service checks.
    certain: bool


async def needs_action_candidates(
    conn: AsyncConnection, f: DispatchFilter, facts: NeedsActionFacts, limit: int
) -> list[Candidate]:
    """The first ``limit`` dispatches of ``f`` (its state filter and cursor included) that may
    need a person, newest first: every dispatch for which one of the queue's flags can hold.

    Every flag but the step window's is decided here, exactly as the service's ``QueueRow``
    decides it from the facts (a test holds the two together), so counting them needs no fact
    read per candidate (decision 0058). A step's window is counted in court days by the policy,
    which only the service can do; here the timer stands in for it (``next_action_at`` is the
    window's end while the step waits), so no dispatch whose window passed is left out. The
    two kinds are read apart (a branch each, newest first), so the window's can use its index."""
    d = dispatches.c
    is_open = d.state.in_([s.value for s in OPEN_DISPATCH_STATES])
    certain = sa.or_(
        sa.and_(is_open, d.service_deadline_at <= facts.now),
        sa.and_(
            d.state == DispatchState.FAILED, d.state_reason.in_(list(facts.resumable_failures))
        ),
        sa.and_(
            is_open,
            sa.exists().where(
                events.c.dispatch_id == d.id, events.c.type.in_(facts.open_flag_events)
            ),
        ),
        *(_flag_not_cleared(d.id, flag, cleared) for flag, cleared in facts.cleared_flags),
        sa.exists().where(
            attempts.c.dispatch_id == d.id,
            attempts.c.state.in_([s.value for s in OPEN_ATTEMPT_STATES]),
            attempts.c.reason == facts.waiting_reason,
        ),
        sa.and_(d.state == DispatchState.NOTICE_PENDING, _draft_notice_open(d.id)),
        sa.exists().where(
            webhook_deliveries.c.dispatch_id == d.id,
            webhook_deliveries.c.state == DELIVERY_FAILED,
        ),
        sa.exists().where(
            checkpoint_timestamps.c.dispatch_id == d.id, stamps.overdue(facts.flag_before)
        ),
    )
    window = sa.and_(is_open, d.step_started_at.is_not(None), d.next_action_at <= facts.now)
    conditions = dispatch_conditions(f)
    if f.before_id:
        conditions.append(d.id < f.before_id)

    def branch(flag: sa.ColumnElement[bool], decided: int) -> sa.Select[Any]:
        newest = (
            sa.select(d.id, sa.literal(decided, sa.Integer).label("certain"))
            .where(*conditions, flag)
            .order_by(d.id.desc())
            .limit(limit)
            .subquery()
        )
        return sa.select(newest.c.id, newest.c.certain)

    found = sa.union_all(branch(certain, 1), branch(window, 0)).subquery("found")
    flagged = (
        sa.select(found.c.id, sa.func.max(found.c.certain).label("certain"))
        .group_by(found.c.id)
        .subquery("flagged")
    )
    rows = await conn.execute(
        sa.select(
            d.id, d.state, d.court, d.policy, d.step_index, d.step_started_at, flagged.c.certain
        )
        .join_from(dispatches, flagged, d.id == flagged.c.id)
        .order_by(d.id.desc())
        .limit(limit)
    )
    return [Candidate(*row[:-1], certain=bool(row[-1])) for row in rows]


def _draft_notice_open(dispatch_id: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    """The dispatch has a draft notice of an open public-notice attempt: one awaiting a
    supervisor's approval, as :func:`notices_in_state` finds it."""
    return sa.exists().where(
        notices.c.dispatch_id == dispatch_id,
        notices.c.state == NoticeState.DRAFT,
        attempts.c.id == notices.c.attempt_id,
        attempts.c.state.in_(OPEN_NOTICE_ATTEMPT_STATES),
    )


def _flag_not_cleared(
    dispatch_id: sa.ColumnElement[str], flag: str, cleared: str
) -> sa.ColumnElement[bool]:
    """The dispatch recorded ``flag`` and no ``cleared`` after it. (The inner EXISTS names
    ``raised``'s dispatch: SQLAlchemy correlates a subquery to the query just around it only, so
    naming the outer dispatch there would bring a second, uncorrelated ``dispatches`` in — any
    dispatch's later ``cleared`` would clear the flag.)"""
    raised, later = events.alias("raised"), events.alias("later")
    return sa.exists().where(
        raised.c.dispatch_id == dispatch_id,
        raised.c.type == flag,
        ~sa.exists().where(
            later.c.dispatch_id == raised.c.dispatch_id,
            later.c.type == cleared,
            later.c.seq > raised.c.seq,
        ),
    )


async def dispatches_in_courts(
    conn: AsyncConnection, ids: Sequence[str], courts: Sequence[str]
) -> list[Dispatch]:
    """The dispatches among ``ids`` that belong to one of ``courts`` (a bulk action's rows)."""
    rows = await conn.execute(
        sa.select(dispatches).where(
            dispatches.c.id.in_(list(ids)), dispatches.c.court.in_(list(courts))
        )
    )
    return [dispatch_from_row(r, []) for r in rows.mappings()]
