"""A public notice's publications and the photos or videos of its postings
(channels/public_notice/publications.py; read for the pages by board.py).

A publication is written with the connection of its dispatch's transaction, so that it and its
``notice_published`` event commit together.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.storage.schema import media_files, notice_publications

p = notice_publications

# What the readers get of a publication: its columns by name, and ``media_sha256``.
PublicationRow = RowMapping


async def insert_publication(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(p.insert().values(**values))


async def publications(conn: AsyncConnection, notice_id: str) -> list[PublicationRow]:
    """The notice's publications, oldest first, each with its photo's or video's SHA-256
    (``media_sha256``, or None)."""
    rows = await conn.execute(
        sa.select(p, media_files.c.sha256.label("media_sha256"))
        .outerjoin(media_files, media_files.c.id == p.c.media_id)
        .where(p.c.notice_id == notice_id)
        .order_by(p.c.published_at, p.c.id)
    )
    return list(rows.mappings())


async def dispatch_media(
    conn: AsyncConnection, media_id: str, dispatch_id: str, purpose: str
) -> tuple[str, str] | None:
    """(id, SHA-256) of the dispatch's file ``media_id`` uploaded for ``purpose``, or None."""
    query = sa.select(media_files.c.id, media_files.c.sha256).where(
        media_files.c.id == media_id,
        media_files.c.dispatch_id == dispatch_id,
        media_files.c.purpose == purpose,
    )
    found = (await conn.execute(query)).first()
    return None if found is None else (str(found.id), str(found.sha256))
