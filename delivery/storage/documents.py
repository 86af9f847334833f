"""The documents a case system (or a court's workspace) uploaded, before any dispatch serves
them (delivery/services/documents.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.storage.schema import documents
from delivery.storage.statements import SELECT_OWN_DOCUMENTS

d = documents


async def insert_document(engine: AsyncEngine, **values: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(d.insert().values(**values))


async def oldest_alike(
    engine: AsyncEngine, key_id: str, sha256: str, title: str, kind: str
) -> dict[str, Any] | None:
    """Id, sha256, size, title and kind of the key's oldest document with these bytes, title
    and kind."""
    async with engine.connect() as conn:
        found = (
            await conn.execute(
                sa.select(d.c.id, d.c.sha256, d.c.size, d.c.title, d.c.kind)
                .where(
                    d.c.api_key_id == key_id,
                    d.c.sha256 == sha256,
                    d.c.title == title,
                    d.c.kind == kind,
                )
                .order_by(d.c.created_at, d.c.id)
                .limit(1)
            )
        ).first()
    return None if found is None else dict(found._mapping)


async def own_documents(engine: AsyncEngine, key_id: str, ids: list[str]) -> dict[str, Any]:
    """Id, title and kind of those of ``ids`` the key uploaded, by id."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(d.c.id, d.c.title, d.c.kind).where(d.c.id.in_(ids), d.c.api_key_id == key_id)
        )
        return {r.id: dict(r._mapping) for r in rows}


async def served_documents(
    conn: AsyncConnection, wanted: Sequence[tuple[str, tuple[str, ...]]]
) -> list[dict[str, dict[str, Any]]]:
    """For each (key, ids) of ``wanted``: id, SHA-256, title and kind of those of ``ids`` the
    key uploaded, by id (what a new dispatch's evidence chain records of each). One statement
    for all of them (a batch's new dispatches, docs/decisions/0059)."""
    ids = sorted({i for _key, key_ids in wanted for i in key_ids})
    keys = sorted({key for key, _ids in wanted})
    if not ids:
        return [{} for _ in wanted]
    rows = await conn.execute(SELECT_OWN_DOCUMENTS, {"document_ids": ids, "api_key_ids": keys})
    found = {
        (r.api_key_id, r.id): {"id": r.id, "sha256": r.sha256, "title": r.title, "kind": r.kind}
        for r in rows
    }
    return [{i: found[(key, i)] for i in key_ids if (key, i) in found} for key, key_ids in wanted]
