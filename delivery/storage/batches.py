"""CSV batches and their rows (delivery/services/batches.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from delivery.storage.engine import READ_ONLY
from delivery.storage.schema import attempts, batch_rows, batches, dispatches


async def insert_batch(engine: AsyncEngine, rows: list[dict[str, Any]], **values: Any) -> None:
    """The batch and its queued ``rows`` (row_no, reference, dispatch id), in one transaction."""
    async with engine.begin() as conn:
        await conn.execute(batches.insert().values(**values))
        if rows:
            await conn.execute(batch_rows.insert(), rows)


async def recent(engine: AsyncEngine, courts: tuple[str, ...], limit: int) -> list[dict[str, Any]]:
    """The latest batches of ``courts``, newest first."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        rows = await conn.execute(
            sa.select(
                batches.c.id,
                batches.c.court,
                batches.c.filename,
                batches.c.rows_total,
                batches.c.rows_invalid,
                batches.c.created_at,
            )
            .where(batches.c.court.in_(courts))
            .order_by(batches.c.created_at.desc(), batches.c.id.desc())
            .limit(limit)
        )
        return [dict(r._mapping) for r in rows]


async def batch(
    engine: AsyncEngine, batch_id: str, courts: tuple[str, ...]
) -> dict[str, Any] | None:
    """The batch with its queued rows (each with its dispatch's state and whether this batch
    created it), or None when it is not one of ``courts``'."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        found = (
            await conn.execute(
                sa.select(batches).where(batches.c.id == batch_id, batches.c.court.in_(courts))
            )
        ).first()
        if found is None:
            return None
        rows = await conn.execute(
            sa.select(
                batch_rows.c.row_no,
                batch_rows.c.reference,
                batch_rows.c.dispatch_id,
                dispatches.c.state,
                dispatches.c.case_number,
                dispatches.c.recipient_name,
                (dispatches.c.created_at >= found.created_at).label("created"),
            )
            .join(dispatches, dispatches.c.id == batch_rows.c.dispatch_id)
            .where(batch_rows.c.batch_id == batch_id)
            .order_by(batch_rows.c.row_no)
        )
        return {**found._mapping, "rows": [dict(r._mapping) for r in rows]}


async def state_counts(
    engine: AsyncEngine, batch_id: str, went_out_states: tuple[str, ...]
) -> list[tuple[str, bool, int]]:
    """(dispatch state, whether an attempt in ``went_out_states`` exists, how many) over the
    batch's dispatches."""
    went_out = (
        sa.select(attempts.c.id)
        .where(attempts.c.dispatch_id == dispatches.c.id, attempts.c.state.in_(went_out_states))
        .exists()
    )
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        each = (
            sa.select(dispatches.c.state, went_out.label("went_out"))
            .select_from(batch_rows.join(dispatches, dispatches.c.id == batch_rows.c.dispatch_id))
            .where(batch_rows.c.batch_id == batch_id)
            .subquery()
        )
        rows = await conn.execute(
            sa.select(each.c.state, each.c.went_out, sa.func.count()).group_by(
                each.c.state, each.c.went_out
            )
        )
        return [(state, sent, int(count)) for state, sent, count in rows]
