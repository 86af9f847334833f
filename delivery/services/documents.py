"""Recording an uploaded document, once its bytes are in the document store.

The HTTP layer streams the upload into ``ctx.documents`` and checks the form; this is the row that
lets the caller's dispatches refer to the file by id.
"""

from __future__ import annotations

from typing import Any

from delivery.context import Context
from delivery.document_store import StoredFile
from delivery.ids import new_id
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
