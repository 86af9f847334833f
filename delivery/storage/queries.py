"""Read-only queries behind the API: a dispatch with its history, and filtered lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.domain import Attempt, AttemptState, Dispatch, DispatchState, DocumentRef, Event
from delivery.storage.rows import attempt_from_row, dispatch_from_row, event_from_row
from delivery.storage.schema import attempts, dispatches, events, notices
from delivery.storage.unit_of_work import load_contacts, load_documents


@dataclass(frozen=True)
class NoticeText:
    """The public notice of a ``notice_pending`` dispatch as it stands: what a supervisor
    reviews before approving (the approval names the body's SHA-256)."""

    id: str
    state: str
    title: str
    body: str


@dataclass(frozen=True)
class DispatchDetail:
    dispatch: Dispatch
    documents: list[DocumentRef]
    attempts: list[Attempt]
    events: list[Event]
    chain_head: str
    notice: NoticeText | None = None


OPEN_NOTICE_ATTEMPT_STATES = (AttemptState.PENDING.value, AttemptState.SENT.value)


async def current_notice(conn: AsyncConnection, dispatch_id: str) -> NoticeText | None:
    """The notice of the dispatch's open public-notice attempt (the latest), if any."""
    row = (
        await conn.execute(
            sa.select(notices.c.id, notices.c.state, notices.c.title, notices.c.body)
            .join(attempts, attempts.c.id == notices.c.attempt_id)
            .where(
                notices.c.dispatch_id == dispatch_id,
                attempts.c.state.in_(OPEN_NOTICE_ATTEMPT_STATES),
            )
            .order_by(attempts.c.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else NoticeText(row.id, row.state, row.title, row.body)


async def dispatch_detail(
    conn: AsyncConnection, dispatch_id: str, courts: tuple[str, ...]
) -> DispatchDetail | None:
    """The dispatch if it exists and belongs to one of ``courts``; otherwise ``None``."""
    row = (
        (
            await conn.execute(
                sa.select(dispatches).where(
                    dispatches.c.id == dispatch_id, dispatches.c.court.in_(courts)
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    attempt_rows = await conn.execute(
        sa.select(attempts).where(attempts.c.dispatch_id == dispatch_id).order_by(attempts.c.id)
    )
    event_rows = await conn.execute(
        sa.select(events).where(events.c.dispatch_id == dispatch_id).order_by(events.c.seq)
    )
    dispatch = dispatch_from_row(row, await load_contacts(conn, dispatch_id))
    notice = None
    if dispatch.state == DispatchState.NOTICE_PENDING:
        notice = await current_notice(conn, dispatch_id)
    return DispatchDetail(
        dispatch=dispatch,
        documents=await load_documents(conn, dispatch_id),
        attempts=[attempt_from_row(r) for r in attempt_rows.mappings()],
        events=[event_from_row(r) for r in event_rows.mappings()],
        chain_head=row["chain_head"],
        notice=notice,
    )


@dataclass(frozen=True)
class DispatchFilter:
    courts: tuple[str, ...]
    state: str | None = None
    case_number: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    before_id: str | None = None
    limit: int = 50


async def list_dispatches(conn: AsyncConnection, f: DispatchFilter) -> list[Dispatch]:
    """Newest first; ``before_id`` is the cursor (ids sort by creation time)."""
    query = sa.select(dispatches).where(dispatches.c.court.in_(f.courts))
    if f.state:
        query = query.where(dispatches.c.state == f.state)
    if f.case_number:
        query = query.where(dispatches.c.case_number == f.case_number)
    if f.created_from:
        query = query.where(dispatches.c.created_at >= f.created_from)
    if f.created_to:
        query = query.where(dispatches.c.created_at < f.created_to)
    if f.before_id:
        query = query.where(dispatches.c.id < f.before_id)
    rows = await conn.execute(query.order_by(dispatches.c.id.desc()).limit(f.limit))
    return [dispatch_from_row(r, []) for r in rows.mappings()]
