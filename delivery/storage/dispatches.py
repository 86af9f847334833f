"""A dispatch's own rows read back: its contacts and documents, in their stored order."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.domain import Contact, DocumentRef
from delivery.storage.rows import contact_from_row, document_from_row
from delivery.storage.statements import SELECT_CONTACTS, SELECT_DOCUMENTS


async def load_contacts(conn: AsyncConnection, dispatch_id: str) -> list[Contact]:
    rows = await conn.execute(SELECT_CONTACTS, {"dispatch_id": dispatch_id})
    return [contact_from_row(r) for r in rows.mappings()]


async def load_documents(conn: AsyncConnection, dispatch_id: str) -> list[DocumentRef]:
    rows = await conn.execute(SELECT_DOCUMENTS, {"dispatch_id": dispatch_id})
    return [document_from_row(r) for r in rows.mappings()]
