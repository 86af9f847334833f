"""Reading notices for the pages: the public board (published notices only, searchable), one
notice with its publications (and, for the public page, the notice period the rules apply to
its recipient), and the supervisors' queue of drafts awaiting approval.

The lifecycle — drafting, editing, approval, publication — is ``channels.public_notice.notices``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.public_notice.notices import DRAFT, PUBLISHED
from delivery.domain import AttemptState, DispatchState
from delivery.ids import looks_like_id
from delivery.storage.queries import LIKE_ESCAPE, escape_like
from delivery.storage.schema import attempts, dispatches, media_files, notice_publications, notices
from escalation.notice_period import notice_period
from escalation.policy import NOTICE_CHANNEL, PolicyBook


async def notice_by_id(conn: AsyncConnection, notice_id: str) -> sa.RowMapping | None:
    if not looks_like_id(notice_id):
        return None
    rows = await conn.execute(_with_attempt_state().where(notices.c.id == notice_id))
    found: sa.RowMapping | None = rows.mappings().first()
    return found


async def publications(conn: AsyncConnection, notice_id: str) -> list[sa.RowMapping]:
    """The notice's publications, oldest first, each with its photo's or video's SHA-256
    (``media_sha256``, or None)."""
    rows = await conn.execute(
        sa.select(notice_publications, media_files.c.sha256.label("media_sha256"))
        .outerjoin(media_files, media_files.c.id == notice_publications.c.media_id)
        .where(notice_publications.c.notice_id == notice_id)
        .order_by(notice_publications.c.published_at, notice_publications.c.id)
    )
    return list(rows.mappings())


@dataclass(frozen=True)
class PublishedNotice:
    """What the public page shows of one published notice."""

    notice: sa.RowMapping
    publications: list[sa.RowMapping]
    period_days: int  # CPL-95 / CPL-283, as the completion rules count it for the recipient
    served: bool  # the dispatch was served by this notice


async def published_notice(
    conn: AsyncConnection, policies: PolicyBook, notice_id: str
) -> PublishedNotice | None:
    """One published notice with its publications, or ``None`` (drafts do not exist publicly)."""
    notice = await notice_by_id(conn, notice_id)
    if notice is None or notice["state"] != PUBLISHED:
        return None
    dispatch = (
        await conn.execute(
            sa.select(
                dispatches.c.state,
                dispatches.c.policy,
                dispatches.c.court,
                dispatches.c.domicile_in_china,
                dispatches.c.served_by_channel,
            ).where(dispatches.c.id == notice["dispatch_id"])
        )
    ).one()
    policy = policies.get(dispatch.policy, dispatch.court)
    period = notice_period(policy, domicile_in_china=dispatch.domicile_in_china)
    return PublishedNotice(
        notice,
        await publications(conn, notice["id"]),
        period.days,
        dispatch.state == DispatchState.SERVED.value
        and dispatch.served_by_channel == NOTICE_CHANNEL,
    )


@dataclass(frozen=True)
class BoardFilter:
    court: str | None = None
    case_number: str | None = None
    recipient_name: str | None = None
    before_id: str | None = None
    limit: int = 20


def _contains(column: sa.ColumnElement[str], text: str) -> sa.ColumnElement[bool]:
    return column.like(f"%{escape_like(text)}%", escape=LIKE_ESCAPE)


# A published notice whose attempt ended without serving (the dispatch was cancelled, escalated
# past the notice, or served another way) no longer runs: the board says it was withdrawn.
WITHDRAWN_ATTEMPT_STATES = frozenset({AttemptState.EXPIRED.value, AttemptState.CANCELLED.value})


def withdrawn(notice: sa.RowMapping) -> bool:
    return notice["attempt_state"] in WITHDRAWN_ATTEMPT_STATES


def _with_attempt_state() -> sa.Select[Any]:
    return sa.select(notices, attempts.c.state.label("attempt_state")).join(
        attempts, attempts.c.id == notices.c.attempt_id
    )


async def board(conn: AsyncConnection, flt: BoardFilter) -> list[sa.RowMapping]:
    """Published notices (never drafts), newest first, by court, case number and name."""
    query = _with_attempt_state().where(notices.c.state == PUBLISHED)
    if flt.court:
        query = query.where(_contains(notices.c.court, flt.court))
    if flt.case_number:
        query = query.where(_contains(notices.c.case_number, flt.case_number))
    if flt.recipient_name:
        query = query.where(_contains(notices.c.recipient_name, flt.recipient_name))
    if flt.before_id:
        query = query.where(notices.c.id < flt.before_id)
    rows = await conn.execute(query.order_by(notices.c.id.desc()).limit(flt.limit))
    return list(rows.mappings())


async def drafts(conn: AsyncConnection, courts: tuple[str, ...]) -> list[sa.RowMapping]:
    """Notices awaiting approval in ``courts``, oldest first (the supervisor's queue)."""
    rows = await conn.execute(
        sa.select(notices)
        .join(attempts, attempts.c.id == notices.c.attempt_id)
        .where(
            notices.c.state == DRAFT,
            notices.c.court.in_(courts),
            # A draft whose attempt ended (escalated past, cancelled) awaits nothing.
            attempts.c.state == AttemptState.PENDING.value,
        )
        .order_by(notices.c.id)
        .limit(500)
    )
    return list(rows.mappings())
