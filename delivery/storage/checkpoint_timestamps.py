"""Chain checkpoints waiting for, or holding, their RFC 3161 token (services/timestamps.py).

A checkpoint's row is written and marked stamped in its dispatch's transaction (as statements the
transaction runs when it writes, :meth:`DispatchTransaction.execute_on_flush`); retries and
flags are bookkeeping of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.storage.id_lists import among
from delivery.storage.schema import checkpoint_timestamps

t = checkpoint_timestamps


def insert_statement(**values: Any) -> sa.Executable:
    """A new checkpoint's row, for the dispatch's transaction to write."""
    return t.insert().values(**values)


def stamped_statement(dispatch_id: str, checkpoint_seq: int, now: datetime) -> sa.Executable:
    """The checkpoint marked as holding its token, for the transaction that records it."""
    return (
        t.update()
        .where(t.c.dispatch_id == dispatch_id, t.c.checkpoint_seq == checkpoint_seq)
        .values(timestamped_at=now, next_attempt_at=None)
    )


async def checkpoint(
    conn: AsyncConnection, dispatch_id: str, checkpoint_seq: int
) -> RowMapping | None:
    query = sa.select(t).where(t.c.dispatch_id == dispatch_id, t.c.checkpoint_seq == checkpoint_seq)
    return (await conn.execute(query)).mappings().first()


async def set_retry(
    conn: AsyncConnection, dispatch_id: str, checkpoint_seq: int, tries: int, at: datetime
) -> None:
    await conn.execute(
        t.update()
        .where(t.c.dispatch_id == dispatch_id, t.c.checkpoint_seq == checkpoint_seq)
        .values(tries=tries, next_attempt_at=at)
    )


async def due(engine: AsyncEngine, now: datetime, limit: int) -> list[tuple[str, int, int]]:
    """(dispatch id, checkpoint seq, tries) of checkpoints due to ask for their token."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(t.c.dispatch_id, t.c.checkpoint_seq, t.c.tries)
            .where(t.c.timestamped_at.is_(None), t.c.next_attempt_at <= now)
            .order_by(t.c.next_attempt_at)
            .limit(limit)
        )
        return [(str(d), int(s), int(n)) for d, s, n in rows.all()]


def overdue(flag_before: datetime) -> sa.ColumnElement[bool]:
    """Without its token, checkpointed at or before ``flag_before``."""
    return sa.and_(t.c.timestamped_at.is_(None), t.c.checkpointed_at <= flag_before)


async def flag_overdue(
    engine: AsyncEngine, flag_before: datetime, now: datetime, limit: int
) -> list[Any]:
    """Mark overdue checkpoints not flagged yet as flagged at ``now``; their (dispatch id,
    checkpoint seq, tries)."""
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                sa.select(t.c.dispatch_id, t.c.checkpoint_seq, t.c.tries)
                .where(overdue(flag_before), t.c.flagged_at.is_(None))
                .limit(limit)
            )
        ).all()
        for dispatch_id, seq, _tries in rows:
            await conn.execute(
                t.update()
                .where(t.c.dispatch_id == dispatch_id, t.c.checkpoint_seq == seq)
                .values(flagged_at=now)
            )
    return list(rows)


async def overdue_among(
    conn: AsyncConnection, ids: Sequence[str], flag_before: datetime
) -> set[str]:
    """Which of the dispatches ``ids`` have an overdue checkpoint."""
    rows = await conn.execute(
        sa.select(t.c.dispatch_id)
        .where(among(t.c.dispatch_id, ids), overdue(flag_before))
        .distinct()
    )
    return {str(d) for (d,) in rows}


async def overdue_count(engine: AsyncEngine, flag_before: datetime) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            sa.select(sa.func.count()).select_from(t).where(overdue(flag_before))
        )
    return int(found or 0)
