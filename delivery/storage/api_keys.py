"""API keys: the case systems' keys and each court's workspace key (delivery/services/api_keys.py,
delivery/services/workspace_key.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from delivery.storage.schema import api_keys


async def insert_key(engine: AsyncEngine, **values: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(api_keys.insert().values(**values))


async def insert_key_unless_taken(engine: AsyncEngine, **values: Any) -> bool:
    """Insert a key; ``False`` (nothing written) when its prefix is taken, e.g. by a twin."""
    try:
        await insert_key(engine, **values)
    except IntegrityError:
        return False
    return True


async def live_key(engine: AsyncEngine, prefix: str) -> RowMapping | None:
    """The unrevoked key with ``prefix``."""
    async with engine.connect() as conn:
        return (
            (
                await conn.execute(
                    sa.select(api_keys).where(
                        api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None)
                    )
                )
            )
            .mappings()
            .first()
        )


async def key_id(engine: AsyncEngine, prefix: str) -> str | None:
    """The id of the key with ``prefix``, revoked or not."""
    async with engine.connect() as conn:
        found = await conn.scalar(sa.select(api_keys.c.id).where(api_keys.c.prefix == prefix))
    return None if found is None else str(found)
