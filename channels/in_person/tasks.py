"""In-person service (直接送达 / 留置送达): field tasks, their assignment and reading them.

One visit is one attempt (domain.md, "In-person outcomes"); each in-person attempt gets one row
in ``field_tasks`` — the work item on a field server's list.

- :func:`open_task` is the ``in_person`` opener of :data:`~delivery.services.court_channels.
  COURT_CHANNELS`: it creates the task (idempotent), assigns it and moves the attempt
  ``pending → sent`` with ``field_task_opened``.
- Assignment is round-robin per court: the field server who made the previous visit of the
  same dispatch if they still can, otherwise the court's active field server **least recently
  assigned** a task (never assigned first; ties by account id). No field server: the task
  stays unassigned (``field_task_unassigned``) until a clerk assigns one
  (:func:`assign_task`, the ``assign_field_server`` action).
- A visit's outcome is recorded by ``channels.in_person.visits``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from delivery.clock import rfc3339
from delivery.context import Context
from delivery.domain import Attempt, AttemptState
from delivery.ids import new_id
from delivery.staff import Role, StaffUser
from delivery.storage import field_tasks as stored_tasks
from delivery.storage.dispatches import load_documents
from delivery.storage.engine import READ_ONLY, Connection
from delivery.storage.field_tasks import FieldServer
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import Channel, EventType, FieldTaskState
from escalation.calendar import CourtDays
from escalation.decide import step_deadline
from escalation.receivers import MEDIATION_STATEMENT

log = logging.getLogger(__name__)
SOURCE = "field"
CHANNEL = Channel.IN_PERSON
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TaskNotFound(Exception):
    """No such task in the caller's courts (404)."""


class NotYourTask(Exception):
    """The task is assigned to someone else, or the caller may not record visits (403)."""


class TaskClosed(Exception):
    """The task's attempt is no longer open: nothing can be recorded on it (409)."""


class AssignmentRefused(Exception):
    """The assignment asked for is not possible; the message says why."""


# --- Opening and assigning ---


async def _choose_assignee(tx: DispatchTransaction, candidates: list[FieldServer]) -> str | None:
    if not candidates:
        return None
    ids = {c.id for c in candidates}
    previous = await stored_tasks.previous_assignee(tx.conn, tx.dispatch.id)
    if previous in ids:
        return previous
    last = await stored_tasks.last_assigned(tx.conn, tx.dispatch.court, ids)
    # Never assigned first, then the longest ago; ties by account id (candidates are sorted).
    return min(
        candidates,
        key=lambda c: (last.get(c.id) is not None, last.get(c.id) or EPOCH, c.id),
    ).id


def _task_deadline(ctx: Context, tx: DispatchTransaction, attempt: Attempt) -> datetime | None:
    """The in-person step's deadline: its window counted from when the step started."""
    dispatch = tx.dispatch
    if dispatch.step_index == attempt.step_index and dispatch.step_started_at is not None:
        policy = ctx.policies.get(dispatch.policy, dispatch.court)
        step = policy.steps[attempt.step_index]
        if step.timed:
            return step_deadline(
                dispatch.step_started_at, step, CourtDays(ctx.calendar, ctx.settings.zone)
            )
    return dispatch.next_action_at


async def open_task(ctx: Context, tx: DispatchTransaction, attempt: Attempt) -> None:
    """The ``in_person`` opener: a field task for this visit, assigned, and the attempt sent."""
    if await stored_tasks.has_task(tx.conn, attempt.id) or attempt.state != AttemptState.PENDING:
        return
    visit_no = sum(1 for a in await tx.attempts() if a.channel == CHANNEL and a.id <= attempt.id)
    due_at = _task_deadline(ctx, tx, attempt)
    candidates = await stored_tasks.court_field_servers(tx.conn, tx.dispatch.court)
    assignee = await _choose_assignee(tx, candidates)
    task_id = new_id()
    await stored_tasks.insert_task(
        tx.conn,
        id=task_id,
        attempt_id=attempt.id,
        dispatch_id=tx.dispatch.id,
        court=tx.dispatch.court,
        assignee_id=assignee,
        visit_no=visit_no,
        state=FieldTaskState.OPEN,
        due_at=due_at,
        assigned_at=tx.now if assignee else None,
        created_at=tx.now,
    )
    attempt.provider_ref = task_id
    attempt.sent_at = tx.now
    attempt.next_action_at = None
    tx.change_attempt(
        attempt,
        AttemptState.SENT,
        EventType.FIELD_TASK_OPENED,
        source=SOURCE,
        data={
            "task_id": task_id,
            "assignee": f"staff:{assignee}" if assignee else None,
            "visit_no": visit_no,
            "due_at": rfc3339(due_at) if due_at else None,
        },
    )
    if assignee is None:
        tx.record(
            EventType.FIELD_TASK_UNASSIGNED,
            source=SOURCE,
            attempt_id=attempt.id,
            data={"task_id": task_id, "reason": "no_field_server_in_court"},
        )
    log.info(
        "field task opened",
        extra={"dispatch_id": tx.dispatch.id, "attempt_id": attempt.id, "task_id": task_id},
    )


async def assign_task(
    ctx: Context, tx: DispatchTransaction, task_id: str, field_server_id: str
) -> dict[str, Any]:
    """Assign (or reassign) an open task of this dispatch to a field server of its court.

    Returns the event data (task id, assignee, previous assignee); the caller records it."""
    task = await stored_tasks.dispatch_task(tx.conn, task_id, tx.dispatch.id)
    if task is None:
        raise AssignmentRefused("task_id must name a field task of this dispatch")
    attempt = await tx.attempt(task["attempt_id"])
    if (
        task["state"] != FieldTaskState.OPEN
        or attempt is None
        or attempt.state != AttemptState.SENT
    ):
        raise AssignmentRefused("the task is no longer open")
    servers = await stored_tasks.court_field_servers(tx.conn, tx.dispatch.court)
    if field_server_id not in {s.id for s in servers}:
        raise AssignmentRefused(
            "field_server must be the id of an active field server of the dispatch's court"
        )
    await stored_tasks.assign(tx.conn, task_id, field_server_id, tx.now)
    previous = task["assignee_id"]
    return {
        "task_id": task_id,
        "attempt_id": attempt.id,
        "assignee": f"staff:{field_server_id}",
        "previous_assignee": f"staff:{previous}" if previous else None,
    }


# --- Reading tasks (the field server's pages) ---


@dataclass(frozen=True)
class TaskView:
    id: str
    dispatch_id: str
    attempt_id: str
    court: str
    case_number: str
    recipient_name: str
    address: str
    visit_no: int
    due_at: datetime | None
    assignee_id: str | None
    assignee_name: str | None
    attempt_state: str
    state: str
    created_at: datetime
    documents: list[tuple[str, str]] = field(default_factory=list)  # (title, kind)
    max_visits: int = 0

    @property
    def open(self) -> bool:
        return self.state == FieldTaskState.OPEN and self.attempt_state == AttemptState.SENT.value

    @property
    def has_mediation_statement(self) -> bool:
        return any(kind == MEDIATION_STATEMENT for _title, kind in self.documents)


async def _views(ctx: Context, conn: Connection, rows: list[Any]) -> list[TaskView]:
    found = []
    for r in rows:
        policy = ctx.policies.get(r.policy, r.court)
        steps = policy.steps
        max_visits = steps[r.step_index].max_attempts if r.step_index < len(steps) else 0
        found.append(
            TaskView(
                id=r.id,
                dispatch_id=r.dispatch_id,
                attempt_id=r.attempt_id,
                court=r.court,
                case_number=r.case_number,
                recipient_name=r.recipient_name,
                address=r.address,
                visit_no=r.visit_no,
                due_at=r.due_at,
                assignee_id=r.assignee_id,
                assignee_name=r.assignee_name,
                attempt_state=r.attempt_state,
                state=r.state,
                created_at=r.created_at,
                documents=[(d.title, d.kind) for d in await load_documents(conn, r.dispatch_id)],
                max_visits=max_visits,
            )
        )
    return found


async def open_tasks(
    ctx: Context, courts: tuple[str, ...], assignee_id: str | None = None
) -> list[TaskView]:
    """Open tasks (their attempt still waiting for the visit) in ``courts``, soonest due first;
    only ``assignee_id``'s when given."""
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        return await _views(ctx, conn, await stored_tasks.open_tasks(conn, courts, assignee_id))


async def task_for(ctx: Context, task_id: str, courts: tuple[str, ...]) -> TaskView:
    """One task in the caller's courts, or :class:`TaskNotFound`."""
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        found = await _views(ctx, conn, await stored_tasks.task(conn, task_id, courts))
    if not found:
        raise TaskNotFound(task_id)
    return found[0]


def may_view(user: StaffUser, task: TaskView) -> bool:
    """Clerks and supervisors see every task of their courts; a field server only their own."""
    if user.has(Role.CLERK) or user.has(Role.SUPERVISOR):
        return True
    return user.has(Role.FIELD_SERVER) and task.assignee_id == user.id


def may_record(user: StaffUser, task: TaskView) -> bool:
    """Only the field server the task is assigned to records its visit."""
    return user.has(Role.FIELD_SERVER) and task.assignee_id == user.id
