"""The ``workers`` rows: each running worker process's heartbeat, and the claims it holds
(delivery/jobs/liveness.py says when a worker counts as stopped; docs/decisions/0024)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from delivery.domain import AttemptState
from delivery.storage.schema import attempts, workers

# A statement selecting worker ids: run on its own, or a subquery of another statement.
WorkerIds: TypeAlias = sa.Select[Any]


async def heartbeat(
    engine: AsyncEngine,
    worker_id: str,
    now: datetime,
    *,
    host: str,
    pid: int,
    started_at: datetime,
    forget_before: datetime,
) -> None:
    """The worker's heartbeat at ``now`` (its row made on the first beat, or again if removed),
    and the rows of workers silent since before ``forget_before`` removed."""
    async with engine.begin() as conn:
        updated = await conn.execute(
            workers.update().where(workers.c.id == worker_id).values(heartbeat_at=now)
        )
        if updated.rowcount == 0:
            await conn.execute(
                workers.insert().values(
                    id=worker_id,
                    host=host,
                    pid=pid,
                    started_at=started_at,
                    heartbeat_at=now,
                )
            )
        await conn.execute(workers.delete().where(workers.c.heartbeat_at < forget_before))


def beaten_since(instant: datetime) -> WorkerIds:
    """The ids of workers that have beaten at or after ``instant``."""
    return sa.select(workers.c.id).where(workers.c.heartbeat_at >= instant)


def silent_since(instant: datetime) -> WorkerIds:
    """The ids of workers whose last heartbeat was before ``instant``."""
    return sa.select(workers.c.id).where(workers.c.heartbeat_at < instant)


async def forget_worker(engine: AsyncEngine, worker_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(workers.delete().where(workers.c.id == worker_id))


async def claims_of(engine: AsyncEngine, worker_id: str) -> list[tuple[str, str]]:
    """(attempt id, dispatch id) of the ``sending`` attempts the worker claimed."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(attempts.c.id, attempts.c.dispatch_id).where(
                    attempts.c.state == AttemptState.SENDING.value,
                    attempts.c.claimed_by == worker_id,
                )
            )
        ).all()
    return [(attempt_id, dispatch_id) for attempt_id, dispatch_id in rows]
