"""A dispatch's records as its evidence shows them: its chain, certificates, documents and media
(delivery/services/evidence.py), each read in one connection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.domain import Event
from delivery.storage.engine import READ_ONLY
from delivery.storage.rows import event_from_row
from delivery.storage.schema import (
    certificates,
    dispatch_documents,
    dispatches,
    documents,
    media_files,
)
from delivery.storage.statements import SELECT_EVENTS


@dataclass(frozen=True)
class EvidenceRows:
    dispatch: RowMapping  # court and case number (the chain's head and seq for verifying)
    certificates: list[RowMapping]
    events: list[Event]
    documents: list[RowMapping] = field(default_factory=list)
    media: list[RowMapping] = field(default_factory=list)


async def _certificates_and_events(
    conn: AsyncConnection, dispatch_id: str
) -> tuple[list[RowMapping], list[Event]]:
    # Certificates before events: a certificate is written after the service it pins, so
    # every certificate read here finds its dispatch_served event among the events.
    rows = await conn.execute(
        sa.select(certificates)
        .where(certificates.c.dispatch_id == dispatch_id)
        .order_by(certificates.c.chain_seq, certificates.c.id)
    )
    cert_rows = list(rows.mappings())
    event_rows = await conn.execute(SELECT_EVENTS, {"dispatch_id": dispatch_id})
    return cert_rows, [event_from_row(r) for r in event_rows.mappings()]


async def bundle_rows(
    engine: AsyncEngine, dispatch_id: str, courts: Sequence[str]
) -> EvidenceRows | None:
    """What the evidence bundle holds, or ``None`` unless the dispatch is in one of ``courts``."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        dispatch = (
            (
                await conn.execute(
                    sa.select(dispatches.c.court, dispatches.c.case_number).where(
                        dispatches.c.id == dispatch_id, dispatches.c.court.in_(courts)
                    )
                )
            )
            .mappings()
            .first()
        )
        if dispatch is None:
            return None
        cert_rows, chain = await _certificates_and_events(conn, dispatch_id)
        doc_rows = list(
            (
                await conn.execute(
                    sa.select(documents)
                    .join(dispatch_documents, dispatch_documents.c.document_id == documents.c.id)
                    .where(dispatch_documents.c.dispatch_id == dispatch_id)
                    .order_by(dispatch_documents.c.position)
                )
            ).mappings()
        )
        media_rows = list(
            (
                await conn.execute(
                    sa.select(media_files)
                    .where(media_files.c.dispatch_id == dispatch_id)
                    .order_by(media_files.c.id)
                )
            ).mappings()
        )
    return EvidenceRows(dispatch, cert_rows, chain, doc_rows, media_rows)


async def chain_rows(engine: AsyncEngine, dispatch_id: str) -> EvidenceRows | None:
    """The dispatch's row (court, case number, event seq, chain head), certificates and chain,
    or ``None`` when there is no such dispatch."""
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    sa.select(
                        dispatches.c.court,
                        dispatches.c.case_number,
                        dispatches.c.event_seq,
                        dispatches.c.chain_head,
                    ).where(dispatches.c.id == dispatch_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        cert_rows, chain = await _certificates_and_events(conn, dispatch_id)
    return EvidenceRows(row, cert_rows, chain)
