"""The court's workspace key: what staff-created documents and dispatches are filed under.

A dispatch queued from the clerk workspace (form or CSV batch) is filed under an internal API key
row of its court, one per court, so that everything the case system's dispatches rely on applies
unchanged: idempotency on ``reference`` (unique per key — a re-uploaded CSV row finds its first
dispatch), and documents that only their uploader's dispatches may name. The row's digest is of a
random token that is never kept, so the key can never authenticate a request; events still name
the staff account that acted. See docs/decisions/0017-ownership-and-workspace-key.md.
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from delivery.context import Context
from delivery.ids import new_id
from delivery.storage.schema import api_keys

# Case systems' key prefixes are 12 hex digits: "ws" + hex can never collide with one.
PREFIX = "ws"


def workspace_prefix(court: str) -> str:
    return PREFIX + hashlib.sha256(court.encode()).hexdigest()[:12]


async def workspace_key_id(ctx: Context, court: str) -> str:
    """The id of ``court``'s workspace key, made on first use (safe against a concurrent twin)."""
    prefix = workspace_prefix(court)
    select = sa.select(api_keys.c.id).where(api_keys.c.prefix == prefix)
    async with ctx.engine.connect() as conn:
        found = await conn.scalar(select)
    if found is not None:
        return str(found)
    try:
        async with ctx.engine.begin() as conn:
            key_id = new_id()
            await conn.execute(
                api_keys.insert().values(
                    id=key_id,
                    name=f"workspace: {court}",
                    prefix=prefix,
                    key_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
                    courts=[court],
                    created_at=ctx.clock.now(),
                )
            )
            return key_id
    except IntegrityError:
        async with ctx.engine.connect() as conn:
            return str(await conn.scalar(select))
