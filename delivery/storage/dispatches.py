"""A dispatch's own rows read back: its contacts and documents, in their stored order; a
dispatch found by the case system's reference."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.domain import Contact, DocumentRef
from delivery.storage.rows import contact_from_row, document_from_row
from delivery.storage.schema import dispatches
from delivery.storage.statements import SELECT_CONTACTS, SELECT_DOCUMENTS


async def load_contacts(conn: AsyncConnection, dispatch_id: str) -> list[Contact]:
    rows = await conn.execute(SELECT_CONTACTS, {"dispatch_id": dispatch_id})
    return [contact_from_row(r) for r in rows.mappings()]


async def load_documents(conn: AsyncConnection, dispatch_id: str) -> list[DocumentRef]:
    rows = await conn.execute(SELECT_DOCUMENTS, {"dispatch_id": dispatch_id})
    return [document_from_row(r) for r in rows.mappings()]


async def by_reference(engine: AsyncEngine, key_id: str, reference: str) -> Any:
    """(id, request hash) of the key's dispatch with ``reference``, or ``None``."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(dispatches.c.id, dispatches.c.request_hash).where(
                    dispatches.c.api_key_id == key_id, dispatches.c.reference == reference
                )
            )
        ).first()
