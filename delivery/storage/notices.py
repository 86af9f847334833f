"""Public notices: the drafts and their publishing (channels/public_notice/notices.py,
publications.py), and reading them for the board and the staff pages (board.py).

A notice's writes are called with the connection of its dispatch's transaction, so that the
notice and the events about it commit together. Its publications are ``notice_publications``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.domain import AttemptState
from delivery.ids import looks_like_id
from delivery.storage.queries import LIKE_ESCAPE, escape_like
from delivery.storage.schema import attempts, dispatches, notices
from delivery.vocabulary import NoticeState

n = notices

# What the readers get of a notice: its columns by name (with ``attempt_state`` where said).
NoticeRow = RowMapping


async def insert_notice(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(n.insert().values(**values))


async def update_notice(conn: AsyncConnection, notice_id: str, **values: Any) -> None:
    await conn.execute(n.update().where(n.c.id == notice_id).values(**values))


async def notice_of_attempt(conn: AsyncConnection, attempt_id: str) -> NoticeRow | None:
    row = await conn.execute(sa.select(n).where(n.c.attempt_id == attempt_id))
    return row.mappings().first()


def _with_attempt_state() -> sa.Select[Any]:
    return sa.select(n, attempts.c.state.label("attempt_state")).join(
        attempts, attempts.c.id == n.c.attempt_id
    )


async def notice_by_id(conn: AsyncConnection, notice_id: str) -> NoticeRow | None:
    """The notice with its attempt's state (``attempt_state``); ``None`` for an unknown id, or
    a text that cannot be one."""
    if not looks_like_id(notice_id):
        return None
    rows = await conn.execute(_with_attempt_state().where(n.c.id == notice_id))
    found: NoticeRow | None = rows.mappings().first()
    return found


async def notice_dispatch(conn: AsyncConnection, dispatch_id: str) -> Any:
    """What the public page needs of a notice's dispatch: its state, policy, court, domicile
    and the channel that served it."""
    return (
        await conn.execute(
            sa.select(
                dispatches.c.state,
                dispatches.c.policy,
                dispatches.c.court,
                dispatches.c.domicile_in_china,
                dispatches.c.served_by_channel,
            ).where(dispatches.c.id == dispatch_id)
        )
    ).one()


@dataclass(frozen=True)
class BoardFilter:
    court: str | None = None
    case_number: str | None = None
    recipient_name: str | None = None
    before_id: str | None = None
    limit: int = 20


def _contains(column: sa.ColumnElement[str], text: str) -> sa.ColumnElement[bool]:
    return column.like(f"%{escape_like(text)}%", escape=LIKE_ESCAPE)


async def board(conn: AsyncConnection, flt: BoardFilter) -> list[NoticeRow]:
    """Published notices (never drafts) with their attempt's state, newest first, by court,
    case number and name."""
    query = _with_attempt_state().where(n.c.state == NoticeState.PUBLISHED)
    if flt.court:
        query = query.where(_contains(n.c.court, flt.court))
    if flt.case_number:
        query = query.where(_contains(n.c.case_number, flt.case_number))
    if flt.recipient_name:
        query = query.where(_contains(n.c.recipient_name, flt.recipient_name))
    if flt.before_id:
        query = query.where(n.c.id < flt.before_id)
    rows = await conn.execute(query.order_by(n.c.id.desc()).limit(flt.limit))
    return list(rows.mappings())


async def drafts(conn: AsyncConnection, courts: tuple[str, ...]) -> list[NoticeRow]:
    """Notices awaiting approval in ``courts``, oldest first (the supervisor's queue)."""
    rows = await conn.execute(
        sa.select(n)
        .join(attempts, attempts.c.id == n.c.attempt_id)
        .where(
            n.c.state == NoticeState.DRAFT,
            n.c.court.in_(courts),
            # A draft whose attempt ended (escalated past, cancelled) awaits nothing.
            attempts.c.state == AttemptState.PENDING.value,
        )
        .order_by(n.c.id)
        .limit(500)
    )
    return list(rows.mappings())
