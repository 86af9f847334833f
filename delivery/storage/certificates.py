"""Certificates of service and the record they are made from (delivery/services/certificates.py).

A certificate's row is written, and the standing one superseded, in its dispatch's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.domain import Attempt, Dispatch, DispatchState, DocumentRef, Event
from delivery.storage.dispatches import load_documents
from delivery.storage.rows import attempt_from_row, dispatch_from_row, event_from_row
from delivery.storage.schema import api_keys, certificates, dispatches, events
from delivery.storage.statements import SELECT_ATTEMPTS, SELECT_EVENTS


async def certificate_rows(conn: AsyncConnection, dispatch_id: str) -> list[RowMapping]:
    """The dispatch's certificates, in chain order."""
    rows = await conn.execute(
        sa.select(certificates)
        .where(certificates.c.dispatch_id == dispatch_id)
        .order_by(certificates.c.chain_seq)
    )
    return list(rows.mappings())


async def key_names(conn: AsyncConnection, key_ids: list[str]) -> list[Any]:
    """(id, name) of the API keys ``key_ids``."""
    query = sa.select(api_keys.c.id, api_keys.c.name)
    return list(await conn.execute(query.where(api_keys.c.id.in_(key_ids))))


@dataclass(frozen=True)
class RecordRows:
    dispatch: Dispatch
    documents: list[DocumentRef]
    attempts: list[Attempt]
    events: list[Event]


async def record_rows(
    conn: AsyncConnection, dispatch_id: str, courts: tuple[str, ...] | None
) -> RecordRows | None:
    """The dispatch (if in ``courts``, when given), its documents, attempts and chain."""
    query = sa.select(dispatches).where(dispatches.c.id == dispatch_id)
    if courts is not None:
        query = query.where(dispatches.c.court.in_(courts))
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        return None
    found = [
        event_from_row(r)
        for r in (await conn.execute(SELECT_EVENTS, {"dispatch_id": dispatch_id})).mappings()
    ]
    attempt_rows = await conn.execute(SELECT_ATTEMPTS, {"dispatch_id": dispatch_id})
    return RecordRows(
        dispatch=dispatch_from_row(row, []),
        documents=await load_documents(conn, dispatch_id),
        attempts=[attempt_from_row(r) for r in attempt_rows.mappings()],
        events=found,
    )


async def insert_certificate(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(certificates.insert().values(**values))


def supersede_statement(dispatch_id: str, now: datetime) -> sa.Executable:
    """The dispatch's standing certificate marked superseded, for the transaction that reverses
    service."""
    return (
        certificates.update()
        .where(certificates.c.dispatch_id == dispatch_id, certificates.c.superseded_at.is_(None))
        .values(superseded_at=now)
    )


async def unissued(engine: AsyncEngine, served_type: str, limit: int) -> list[tuple[str, int]]:
    """Served dispatches whose standing service has no certificate yet: (id, the seq of their
    latest ``served_type`` event)."""
    standing = (
        sa.select(certificates.c.id)
        .where(
            certificates.c.dispatch_id == dispatches.c.id,
            certificates.c.superseded_at.is_(None),
        )
        .exists()
    )
    served_seq = (
        sa.select(sa.func.max(events.c.seq))
        .where(events.c.dispatch_id == dispatches.c.id, events.c.type == served_type)
        .scalar_subquery()
    )
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(dispatches.c.id, served_seq)
            .where(dispatches.c.state == DispatchState.SERVED.value, ~standing)
            .limit(limit)
        )
        return [(str(i), int(s or 0)) for i, s in rows.all()]
