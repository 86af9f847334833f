"""Mail pieces and carrier events: the postal channel's rows (channels/postal/receipts.py).

A piece's writes are called with the connection of the dispatch's transaction, so that a piece
and the events about it commit together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.domain import AttemptState, DocumentRef, Event
from delivery.storage import timers
from delivery.storage.dispatches import load_documents
from delivery.storage.engine import READ_ONLY
from delivery.storage.schema import (
    attempts,
    carrier_events,
    contacts,
    dispatches,
    notice_codes,
    postal_pieces,
)
from delivery.storage.transaction_rows import load_events

p = postal_pieces


async def has_piece(conn: AsyncConnection, attempt_id: str) -> bool:
    known = await conn.scalar(sa.select(p.c.attempt_id).where(p.c.attempt_id == attempt_id))
    return known is not None


async def insert_piece(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(p.insert().values(**values))


async def find_piece(engine: AsyncEngine, carrier: str, tracking_number: str) -> Any:
    """The attempt and dispatch ids of the carrier's piece, or ``None``."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(p.c.attempt_id, p.c.dispatch_id).where(
                    p.c.carrier == carrier, p.c.tracking_number == tracking_number
                )
            )
        ).first()


async def note_carrier_event(
    conn: AsyncConnection, carrier: str, event_id: str, attempt_id: str, now: datetime
) -> bool:
    """Store the carrier's event id; ``False`` (and nothing stored) when it was seen before."""
    seen = await conn.scalar(
        sa.select(carrier_events.c.event_id).where(
            carrier_events.c.carrier == carrier, carrier_events.c.event_id == event_id
        )
    )
    if seen is not None:
        return False
    await conn.execute(
        carrier_events.insert().values(
            carrier=carrier, event_id=event_id, attempt_id=attempt_id, received_at=now
        )
    )
    return True


async def update_piece(conn: AsyncConnection, attempt_id: str, **values: Any) -> None:
    """Change a piece; ``handed_over_at`` is only ever set once."""
    query = p.update().where(p.c.attempt_id == attempt_id)
    if "handed_over_at" in values:
        query = query.where(p.c.handed_over_at.is_(None))
    await conn.execute(query.values(**values))


async def due_polls(
    engine: AsyncEngine, carrier: str, now: datetime, states: tuple[str, ...], limit: int
) -> list[Any]:
    """(attempt id, tracking number, created at) of the carrier's pieces due a poll whose
    attempt is in ``states``, the longest due first."""
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    sa.select(p.c.attempt_id, p.c.tracking_number, p.c.created_at)
                    .join(attempts, attempts.c.id == p.c.attempt_id)
                    .where(
                        p.c.next_poll_at <= now,
                        p.c.carrier == carrier,
                        attempts.c.state.in_(states),
                    )
                    .order_by(p.c.next_poll_at)
                    .limit(limit)
                )
            ).all()
        )


async def claim_poll(
    engine: AsyncEngine, attempt_id: str, now: datetime, next_poll_at: datetime | None
) -> bool:
    """Move a due poll on to ``next_poll_at``; ``False`` when another sweep took it first."""
    return await timers.claim_poll(
        engine, p.c.attempt_id, attempt_id, p.c.next_poll_at, now, next_poll_at
    )


async def dispatch_has_piece(conn: AsyncConnection, dispatch_id: str) -> bool:
    """Whether a letter of the dispatch went before (the first carries the confirmation QR)."""
    known = await conn.scalar(sa.select(p.c.attempt_id).where(p.c.dispatch_id == dispatch_id))
    return known is not None


async def dispatch_events(engine: AsyncEngine, dispatch_id: str) -> list[Event]:
    """The dispatch's chain, read for a letter's confirmation link."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        return await load_events(conn, dispatch_id)


def _first_letter() -> sa.ColumnElement[bool]:
    """The piece is its dispatch's first letter: no piece of the dispatch came before it."""
    earlier = postal_pieces.alias("earlier")
    return ~sa.exists().where(
        earlier.c.dispatch_id == p.c.dispatch_id,
        sa.or_(
            earlier.c.created_at < p.c.created_at,
            sa.and_(earlier.c.created_at == p.c.created_at, earlier.c.attempt_id < p.c.attempt_id),
        ),
    )


def _piece_query() -> sa.Select[Any]:
    return (
        sa.select(
            p.c.attempt_id,
            p.c.dispatch_id,
            p.c.court,
            p.c.carrier,
            p.c.tracking_number,
            p.c.created_at,
            dispatches.c.case_number,
            dispatches.c.recipient_name,
            attempts.c.address,
            contacts.c.postcode,
            notice_codes.c.code.label("notice_code"),
            _first_letter().label("first_letter"),
        )
        .join(attempts, attempts.c.id == p.c.attempt_id)
        .join(dispatches, dispatches.c.id == p.c.dispatch_id)
        .outerjoin(contacts, contacts.c.id == attempts.c.contact_id)
        .outerjoin(notice_codes, notice_codes.c.attempt_id == p.c.attempt_id)
    )


def _still_to_go() -> list[sa.ColumnElement[bool]]:
    """A piece the carrier has not taken, whose attempt is still open."""
    return [p.c.handed_over_at.is_(None), attempts.c.state == AttemptState.SENT.value]


async def _pieces(
    engine: AsyncEngine, query: sa.Select[Any]
) -> list[tuple[Any, list[DocumentRef]]]:
    async with engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        rows = (await conn.execute(query)).all()
        return [(r, await load_documents(conn, r.dispatch_id)) for r in rows]


async def piece(
    engine: AsyncEngine, dispatch_id: str, attempt_id: str, courts: tuple[str, ...]
) -> list[tuple[Any, list[DocumentRef]]]:
    """The printable piece of one attempt (with its dispatch's documents), if in ``courts``."""
    query = _piece_query().where(
        p.c.attempt_id == attempt_id, p.c.dispatch_id == dispatch_id, p.c.court.in_(courts)
    )
    return await _pieces(engine, query)


async def pieces_to_go(
    engine: AsyncEngine, start: datetime, end: datetime, courts: tuple[str, ...]
) -> list[tuple[Any, list[DocumentRef]]]:
    """The pieces created in [start, end) still to go, oldest first."""
    query = (
        _piece_query()
        .where(p.c.court.in_(courts), p.c.created_at >= start, p.c.created_at < end)
        .where(*_still_to_go())
        .order_by(p.c.created_at, p.c.attempt_id)
    )
    return await _pieces(engine, query)


async def pieces_to_hand_over(
    engine: AsyncEngine, attempt_ids: list[str], courts: tuple[str, ...]
) -> list[Any]:
    """(attempt id, dispatch id) of the pieces of ``attempt_ids`` in ``courts`` still to go."""
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    sa.select(p.c.attempt_id, p.c.dispatch_id)
                    .join(attempts, attempts.c.id == p.c.attempt_id)
                    .where(p.c.attempt_id.in_(attempt_ids), p.c.court.in_(courts), *_still_to_go())
                    .order_by(p.c.dispatch_id, p.c.attempt_id)
                )
            ).all()
        )


async def still_to_go(conn: AsyncConnection, attempt_ids: list[str]) -> list[Any]:
    """(attempt id, carrier, tracking number) of those pieces still to go, read again in the
    dispatch's transaction."""
    return list(
        (
            await conn.execute(
                sa.select(p.c.attempt_id, p.c.carrier, p.c.tracking_number)
                .join(attempts, attempts.c.id == p.c.attempt_id)
                .where(p.c.attempt_id.in_(attempt_ids), *_still_to_go())
                .order_by(p.c.attempt_id)
            )
        ).all()
    )
