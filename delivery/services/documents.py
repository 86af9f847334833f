"""Recording an uploaded document, once its bytes are in the document store.

The HTTP layer streams the upload into ``ctx.documents`` and checks the form; this is the row that
lets the caller's dispatches refer to the file by id.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from delivery.context import Context
from delivery.ids import looks_like_id, new_id
from delivery.infra.document_store import StoredFile
from delivery.storage.schema import documents

MAX_TITLE = 500  # the column's width


async def store_document(
    ctx: Context, key_id: str, stored_file: StoredFile, title: str, kind: str
) -> dict[str, Any]:
    """The new document as the API shows it: id, sha256, size, title (cut to fit) and kind."""
    document = {
        "id": new_id(),
        "sha256": stored_file.sha256,
        "size": stored_file.size,
        "title": title[:MAX_TITLE],
        "kind": kind,
    }
    async with ctx.engine.begin() as conn:
        await conn.execute(
            documents.insert().values(
                **document,
                api_key_id=key_id,
                media_type="application/pdf",
                created_at=ctx.clock.now(),
            )
        )
    return document


async def reuse_or_store_document(
    ctx: Context, key_id: str, stored_file: StoredFile, title: str, kind: str
) -> dict[str, Any]:
    """The key's document with these bytes, title and kind if it has one (the oldest), else a
    new one. The workspace uploads its documents again with every form or CSV sent: reusing the
    row keeps a re-sent dispatch's body — which names document ids — the same, so its creation
    stays idempotent instead of conflicting."""
    d = documents
    async with ctx.engine.connect() as conn:
        found = (
            await conn.execute(
                sa.select(d.c.id, d.c.sha256, d.c.size, d.c.title, d.c.kind)
                .where(
                    d.c.api_key_id == key_id,
                    d.c.sha256 == stored_file.sha256,
                    d.c.title == title[:MAX_TITLE],
                    d.c.kind == kind,
                )
                .order_by(d.c.created_at, d.c.id)
                .limit(1)
            )
        ).first()
    if found is not None:
        return dict(found._mapping)
    return await store_document(ctx, key_id, stored_file, title, kind)


async def owned_documents(ctx: Context, key_id: str, ids: list[str]) -> list[dict[str, Any]]:
    """Id, title and kind of those of ``ids`` that ``key_id`` uploaded, in the order asked
    (each once): a form sent again names the documents it recorded before, and must not be
    able to name anyone else's."""
    wanted = [i for i in dict.fromkeys(ids) if looks_like_id(i)]
    if not wanted:
        return []
    d = documents
    async with ctx.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(d.c.id, d.c.title, d.c.kind).where(
                d.c.id.in_(wanted), d.c.api_key_id == key_id
            )
        )
        found = {r.id: dict(r._mapping) for r in rows}
    return [found[i] for i in wanted if i in found]
