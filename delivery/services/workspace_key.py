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

from delivery.context import Context
from delivery.ids import new_id
from delivery.storage import api_keys as stored_keys

# Case systems' key prefixes are 12 hex digits: "ws" + hex can never collide with one.
PREFIX = "ws"


def workspace_prefix(court: str) -> str:
    return PREFIX + hashlib.sha256(court.encode()).hexdigest()[:12]


async def workspace_key_id(ctx: Context, court: str) -> str:
    """The id of ``court``'s workspace key, made on first use (safe against a concurrent twin)."""
    prefix = workspace_prefix(court)
    found = await stored_keys.key_id(ctx.engine, prefix)
    if found is not None:
        return found
    key_id = new_id()
    inserted = await stored_keys.insert_key_unless_taken(
        ctx.engine,
        id=key_id,
        name=f"workspace: {court}",
        prefix=prefix,
        key_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
        courts=[court],
        created_at=ctx.clock.now(),
    )
    return key_id if inserted else str(await stored_keys.key_id(ctx.engine, prefix))
