"""Recording an uploaded document, once its bytes are in the document store.

The HTTP layer streams the upload into ``ctx.documents`` and checks the form; this is the row that
lets the caller's dispatches refer to the file by id.
"""

from __future__ import annotations

from typing import Any

from delivery.context import Context
from delivery.ids import looks_like_id, new_id
from delivery.infra.document_store import StoredFile
from delivery.storage import documents as stored_documents

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
    await stored_documents.insert_document(
        ctx.engine,
        **document,
        api_key_id=key_id,
        media_type="application/pdf",
        created_at=ctx.clock.now(),
    )
    return document


async def reuse_or_store_document(
    ctx: Context, key_id: str, stored_file: StoredFile, title: str, kind: str
) -> dict[str, Any]:
    """The key's document with these bytes, title and kind if it has one (the oldest), else a
    new one. The workspace uploads its documents again with every form or CSV sent: reusing the
    row keeps a re-sent dispatch's body — which names document ids — the same, so its creation
    stays idempotent instead of conflicting."""
    found = await stored_documents.oldest_alike(
        ctx.engine, key_id, stored_file.sha256, title[:MAX_TITLE], kind
    )
    if found is not None:
        return found
    return await store_document(ctx, key_id, stored_file, title, kind)


async def owned_documents(ctx: Context, key_id: str, ids: list[str]) -> list[dict[str, Any]]:
    """Id, title and kind of those of ``ids`` that ``key_id`` uploaded, in the order asked
    (each once): a form sent again names the documents it recorded before, and must not be
    able to name anyone else's."""
    wanted = [i for i in dict.fromkeys(ids) if looks_like_id(i)]
    if not wanted:
        return []
    found = await stored_documents.own_documents(ctx.engine, key_id, wanted)
    return [found[i] for i in wanted if i in found]
