"""The facts the clerk's queue shows beside each dispatch of a page (delivery/services/
clerk_queue.py): one batched query per kind of fact for the whole page, never one per row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.domain import OPEN_ATTEMPT_STATES
from delivery.storage.outbox import DELIVERY_FAILED
from delivery.storage.queries import OPEN_NOTICE_ATTEMPT_STATES
from delivery.storage.schema import (
    attempts,
    events,
    notices,
    outbox_messages,
    webhook_deliveries,
)


async def open_attempts(conn: AsyncConnection, ids: list[str]) -> Sequence[Any]:
    """(dispatch id, channel, state, reason) of the dispatches' open attempts, oldest first."""
    open_states = [s.value for s in OPEN_ATTEMPT_STATES]
    rows = await conn.execute(
        sa.select(attempts.c.dispatch_id, attempts.c.channel, attempts.c.state, attempts.c.reason)
        .where(attempts.c.dispatch_id.in_(ids), attempts.c.state.in_(open_states))
        .order_by(attempts.c.id)
    )
    return rows.all()


async def latest_events(
    conn: AsyncConnection, ids: list[str], types: Sequence[str]
) -> Sequence[Any]:
    """(dispatch id, type, seq of the latest) of each of ``types`` the dispatches recorded."""
    rows = await conn.execute(
        sa.select(events.c.dispatch_id, events.c.type, sa.func.max(events.c.seq))
        .where(events.c.dispatch_id.in_(ids), events.c.type.in_(types))
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
            notices.c.dispatch_id.in_(ids),
            notices.c.state == state,
            attempts.c.state.in_(OPEN_NOTICE_ATTEMPT_STATES),
        )
    )
    return rows.all()


async def failed_deliveries(conn: AsyncConnection, ids: list[str]) -> Sequence[Any]:
    """(dispatch id, how many) of the dispatches' webhook deliveries that failed."""
    rows = await conn.execute(
        sa.select(outbox_messages.c.dispatch_id, sa.func.count())
        .join(webhook_deliveries, webhook_deliveries.c.message_id == outbox_messages.c.id)
        .where(
            outbox_messages.c.dispatch_id.in_(ids),
            webhook_deliveries.c.state == DELIVERY_FAILED,
        )
        .group_by(outbox_messages.c.dispatch_id)
    )
    return rows.all()
