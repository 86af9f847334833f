"""Field tasks: the in-person channel's work items (channels/in_person/tasks.py, visits.py), and
the field servers they are assigned to.

A task's writes are called with the connection of its dispatch's transaction, so that the task
and the events about it commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.domain import AttemptState
from delivery.staff import Role
from delivery.storage.schema import attempts, dispatches, field_tasks, staff_users
from delivery.vocabulary import FieldTaskState

t = field_tasks


@dataclass(frozen=True)
class FieldServer:
    id: str
    display_name: str


async def court_field_servers(conn: AsyncConnection, court: str) -> list[FieldServer]:
    """The court's active (not disabled) accounts with the ``field_server`` role, by id."""
    rows = await conn.execute(
        sa.select(
            staff_users.c.id, staff_users.c.display_name, staff_users.c.roles, staff_users.c.courts
        )
        .where(staff_users.c.disabled_at.is_(None))
        .order_by(staff_users.c.id)
    )
    return [
        FieldServer(r.id, r.display_name)
        for r in rows
        if Role.FIELD_SERVER.value in (r.roles or []) and court in (r.courts or [])
    ]


async def previous_assignee(conn: AsyncConnection, dispatch_id: str) -> str | None:
    """Who was given the dispatch's latest assigned task, or ``None``."""
    previous = await conn.scalar(
        sa.select(t.c.assignee_id)
        .where(t.c.dispatch_id == dispatch_id, t.c.assignee_id.is_not(None))
        .order_by(t.c.created_at.desc(), t.c.id.desc())
        .limit(1)
    )
    return None if previous is None else str(previous)


async def last_assigned(
    conn: AsyncConnection, court: str, assignee_ids: set[str]
) -> dict[str, datetime]:
    """When each of ``assignee_ids`` that has had one was last assigned a task in ``court``."""
    latest = await conn.execute(
        sa.select(t.c.assignee_id, sa.func.max(t.c.assigned_at))
        .where(t.c.court == court, t.c.assignee_id.in_(assignee_ids))
        .group_by(t.c.assignee_id)
    )
    return {row[0]: row[1] for row in latest}


async def has_task(conn: AsyncConnection, attempt_id: str) -> bool:
    existing = await conn.scalar(sa.select(t.c.id).where(t.c.attempt_id == attempt_id))
    return existing is not None


async def insert_task(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(t.insert().values(**values))


async def dispatch_task(conn: AsyncConnection, task_id: str, dispatch_id: str) -> RowMapping | None:
    """The task ``task_id`` if it is one of the dispatch's."""
    rows = await conn.execute(sa.select(t).where(t.c.id == task_id, t.c.dispatch_id == dispatch_id))
    return rows.mappings().first()


async def assign(conn: AsyncConnection, task_id: str, assignee_id: str, now: datetime) -> None:
    await conn.execute(
        t.update().where(t.c.id == task_id).values(assignee_id=assignee_id, assigned_at=now)
    )


async def state_and_assignee(conn: AsyncConnection, task_id: str) -> Any:
    """(state, assignee id) of the task, read again in its dispatch's transaction."""
    return (
        await conn.execute(sa.select(t.c.state, t.c.assignee_id).where(t.c.id == task_id))
    ).first()


async def complete(conn: AsyncConnection, task_id: str, now: datetime) -> None:
    await conn.execute(
        t.update().where(t.c.id == task_id).values(state=FieldTaskState.DONE, completed_at=now)
    )


# --- Reading tasks for the field server's pages ---


def _task_query() -> sa.Select[Any]:
    return (
        sa.select(
            t.c.id,
            t.c.dispatch_id,
            t.c.attempt_id,
            t.c.court,
            t.c.visit_no,
            t.c.due_at,
            t.c.assignee_id,
            t.c.state,
            t.c.created_at,
            staff_users.c.display_name.label("assignee_name"),
            dispatches.c.case_number,
            dispatches.c.recipient_name,
            dispatches.c.policy,
            attempts.c.address,
            attempts.c.step_index,
            attempts.c.state.label("attempt_state"),
        )
        .join(attempts, attempts.c.id == t.c.attempt_id)
        .join(dispatches, dispatches.c.id == t.c.dispatch_id)
        .outerjoin(staff_users, staff_users.c.id == t.c.assignee_id)
    )


async def open_tasks(
    conn: AsyncConnection, courts: tuple[str, ...], assignee_id: str | None
) -> list[Any]:
    """Open tasks (their attempt still waiting for the visit) in ``courts``, soonest due first;
    only ``assignee_id``'s when given."""
    query = _task_query().where(
        t.c.state == FieldTaskState.OPEN,
        t.c.court.in_(courts),
        attempts.c.state == AttemptState.SENT.value,
    )
    if assignee_id is not None:
        query = query.where(t.c.assignee_id == assignee_id)
    query = query.order_by(t.c.due_at.is_(None), t.c.due_at, t.c.created_at, t.c.id)
    return list((await conn.execute(query)).all())


async def task(conn: AsyncConnection, task_id: str, courts: tuple[str, ...]) -> list[Any]:
    """The task ``task_id`` if in ``courts`` (one row, or none)."""
    query = _task_query().where(t.c.id == task_id, t.c.court.in_(courts))
    return list((await conn.execute(query)).all())
