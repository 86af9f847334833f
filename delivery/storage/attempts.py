"""Attempt reads outside a dispatch's transaction (inside one, the transaction has them)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from delivery.storage.schema import attempts


async def attempt_channel(engine: AsyncEngine, dispatch_id: str, attempt_id: str) -> str | None:
    """The channel of the dispatch's attempt, ``None`` if it has no such attempt."""
    async with engine.connect() as conn:
        channel = await conn.scalar(
            sa.select(attempts.c.channel).where(
                attempts.c.id == attempt_id, attempts.c.dispatch_id == dispatch_id
            )
        )
    return None if channel is None else str(channel)
