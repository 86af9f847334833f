"""Due work: the timers that live in the database (``next_action_at``, ``next_attempt_at``), read
by the sweep (delivery/services/sweep.py) on the injected clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from delivery.domain import OPEN_DISPATCH_STATES, AttemptState
from delivery.storage.outbox import DELIVERY_PENDING
from delivery.storage.schema import attempts, dispatches, webhook_deliveries

# Where a page of due work ended: (due time, id) of its last row. Pages go by this key, so a
# sweep reads 100,000 due rows in short reads of one page each, never one long transaction.
Cursor = tuple[datetime, str] | None


def _after(due: sa.ColumnElement[Any], key: sa.ColumnElement[Any], after: Cursor) -> Any:
    return sa.true() if after is None else sa.tuple_(due, key) > sa.tuple_(*after)


# One kind of due work, read a page at a time: (engine, now, page size, after) → rows.
DueFetch = Callable[[AsyncEngine, datetime, int, Cursor], Awaitable[list[Any]]]


def cursor_of(row: Any) -> Cursor:
    """Where the page that ended with ``row`` ended."""
    return (row.due, row.key)


async def _page(engine: AsyncEngine, query: sa.Select[Any]) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def due_dispatches(
    engine: AsyncEngine, now: datetime, limit: int, after: Cursor = None
) -> list[Any]:
    """(id, event seq, due, key) of open dispatches due to be advanced, the longest due first."""
    d = dispatches.c
    return await _page(
        engine,
        sa.select(d.id, d.event_seq, d.next_action_at.label("due"), d.id.label("key"))
        .where(
            d.next_action_at <= now,
            d.state.in_([s.value for s in OPEN_DISPATCH_STATES]),
            _after(d.next_action_at, d.id, after),
        )
        .order_by(d.next_action_at, d.id)
        .limit(limit),
    )


async def due_sends(
    engine: AsyncEngine, now: datetime, limit: int, after: Cursor = None
) -> list[Any]:
    """(dispatch id, attempt id, tries, due, key) of pending attempts due to be sent."""
    a = attempts.c
    return await _page(
        engine,
        sa.select(a.dispatch_id, a.id, a.tries, a.next_action_at.label("due"), a.id.label("key"))
        .where(
            a.state == AttemptState.PENDING.value,
            a.next_action_at <= now,
            _after(a.next_action_at, a.id, after),
        )
        .order_by(a.next_action_at, a.id)
        .limit(limit),
    )


async def due_deliveries(
    engine: AsyncEngine, now: datetime, limit: int, after: Cursor = None
) -> list[Any]:
    """(id, tries, due, key) of webhook deliveries due and not leased."""
    d = webhook_deliveries.c
    return await _page(
        engine,
        sa.select(d.id, d.tries, d.next_attempt_at.label("due"), d.id.label("key"))
        .where(
            d.state == DELIVERY_PENDING,
            d.next_attempt_at <= now,
            sa.or_(d.lease_until.is_(None), d.lease_until < now),
            _after(d.next_attempt_at, d.id, after),
        )
        .order_by(d.next_attempt_at, d.id)
        .limit(limit),
    )


async def claims_outside(engine: AsyncEngine, alive: sa.Select[Any], limit: int) -> list[Any]:
    """(attempt id, dispatch id) of ``sending`` attempts not claimed by one of the ``alive``
    workers (delivery/jobs/liveness.py)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(attempts.c.id, attempts.c.dispatch_id)
            .where(
                attempts.c.state == AttemptState.SENDING.value,
                sa.or_(attempts.c.claimed_by.is_(None), attempts.c.claimed_by.not_in(alive)),
            )
            .limit(limit)
        )
        return list(rows)


async def claim_poll(
    engine: AsyncEngine,
    key: sa.Column[Any],
    value: str,
    next_poll: sa.Column[Any],
    due_at: datetime,
    next_poll_at: datetime | None,
) -> bool:
    """Move the row's due poll (``next_poll`` at or before ``due_at``) on to ``next_poll_at``
    (None: no more polls); False when another sweep took it first. Mail pieces and SMS sends."""
    async with engine.begin() as conn:
        taken = await conn.execute(
            sa.update(key.table)
            .where(key == value, next_poll <= due_at)
            .values({next_poll.name: next_poll_at})
        )
    return taken.rowcount == 1
