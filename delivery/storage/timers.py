"""Due work: the timers that live in the database (``next_action_at``, ``next_attempt_at``), read
by the sweep (delivery/services/sweep.py) on the injected clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from delivery.domain import OPEN_DISPATCH_STATES, AttemptState
from delivery.storage.outbox import DELIVERY_PENDING
from delivery.storage.schema import attempts, dispatches, webhook_deliveries


@dataclass(frozen=True)
class DueWork:
    dispatches: list[Any]  # (id, event seq) of open dispatches due to be advanced
    sends: list[Any]  # (dispatch id, attempt id, tries) of pending attempts due to be sent
    deliveries: list[Any]  # (id, tries) of webhook deliveries due and not leased


async def due_work(engine: AsyncEngine, now: datetime, limit: int) -> DueWork:
    """What is due at ``now``, the longest due first, at most ``limit`` of each."""
    async with engine.connect() as conn:
        due_dispatches = (
            await conn.execute(
                sa.select(dispatches.c.id, dispatches.c.event_seq)
                .where(
                    dispatches.c.next_action_at <= now,
                    dispatches.c.state.in_([s.value for s in OPEN_DISPATCH_STATES]),
                )
                .order_by(dispatches.c.next_action_at)
                .limit(limit)
            )
        ).all()
        due_sends = (
            await conn.execute(
                sa.select(attempts.c.dispatch_id, attempts.c.id, attempts.c.tries)
                .where(
                    attempts.c.state == AttemptState.PENDING.value, attempts.c.next_action_at <= now
                )
                .order_by(attempts.c.next_action_at)
                .limit(limit)
            )
        ).all()
        d = webhook_deliveries
        due_deliveries = (
            await conn.execute(
                sa.select(d.c.id, d.c.tries)
                .where(
                    d.c.state == DELIVERY_PENDING,
                    d.c.next_attempt_at <= now,
                    sa.or_(d.c.lease_until.is_(None), d.c.lease_until < now),
                )
                .order_by(d.c.next_attempt_at)
                .limit(limit)
            )
        ).all()
    return DueWork(list(due_dispatches), list(due_sends), list(due_deliveries))


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
