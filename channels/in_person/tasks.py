"""In-person service (直接送达 / 留置送达): field tasks, their assignment and the visits' outcomes.

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
- :func:`record_visit` records one visit's outcome in one transaction with the attempt's state
  change, the evidence files' rows and the decision (service, the next visit, or escalation).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from delivery.clock import rfc3339
from delivery.context import Context
from delivery.domain import Attempt, AttemptState
from delivery.ids import new_id
from delivery.infra.document_store import StoredFile
from delivery.services.progress import decide_now
from delivery.staff import Role, StaffUser
from delivery.storage.engine import READ_ONLY
from delivery.storage.schema import attempts, dispatches, field_tasks, staff_users
from delivery.storage.unit_of_work import DispatchTransaction, dispatch_transaction, load_documents
from escalation.decide import CourtDays, step_deadline
from escalation.rules import ELIGIBLE_RECEIVERS
from escalation.rules import MEDIATION_RECEIVERS as RULE_MEDIATION_RECEIVERS

log = logging.getLogger(__name__)
SOURCE = "field"
CHANNEL = "in_person"
MEDIATION_STATEMENT = "mediation_statement"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TaskState:
    OPEN = "open"
    DONE = "done"


OUTCOMES = ("served", "refused_left", "refused_filmed", "failed")
RELATIONS = tuple(
    r
    for r in (
        "self",
        "family",
        "entity_representative",
        "entity_mailroom",
        "agent",
        "designated_receiver",
        "guardian",
    )
    if r in ELIGIBLE_RECEIVERS
)
# CPL-INT-133 (the rule is escalation's): the form offers only these for a mediation statement.
MEDIATION_RECEIVERS = tuple(r for r in RELATIONS if r in RULE_MEDIATION_RECEIVERS)
FILMED_PLACES = ("away_from_home", "court")
# not found / moved / no such address; "refused_not_left": refused and the documents could not
# (a mediation statement, CPL-INT-133) or were not left — the visit fails.
FAILURE_REASONS = ("not_found", "moved", "no_such_address", "refused_not_left")


class TaskNotFound(Exception):
    """No such task in the caller's courts (404)."""


class NotYourTask(Exception):
    """The task is assigned to someone else, or the caller may not record visits (403)."""


class TaskClosed(Exception):
    """The task's attempt is no longer open: nothing can be recorded on it (409)."""


class AssignmentRefused(Exception):
    """The assignment asked for is not possible; the message says why."""


# --- Opening and assigning ---


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


async def _choose_assignee(
    conn: AsyncConnection, court: str, dispatch_id: str, candidates: list[FieldServer]
) -> str | None:
    if not candidates:
        return None
    ids = {c.id for c in candidates}
    previous = await conn.scalar(
        sa.select(field_tasks.c.assignee_id)
        .where(field_tasks.c.dispatch_id == dispatch_id, field_tasks.c.assignee_id.is_not(None))
        .order_by(field_tasks.c.created_at.desc(), field_tasks.c.id.desc())
        .limit(1)
    )
    if previous in ids:
        return str(previous)
    latest = await conn.execute(
        sa.select(field_tasks.c.assignee_id, sa.func.max(field_tasks.c.assigned_at))
        .where(field_tasks.c.court == court, field_tasks.c.assignee_id.in_(ids))
        .group_by(field_tasks.c.assignee_id)
    )
    last: dict[str, datetime] = {row[0]: row[1] for row in latest}
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
    existing = await tx.conn.scalar(
        sa.select(field_tasks.c.id).where(field_tasks.c.attempt_id == attempt.id)
    )
    if existing is not None or attempt.state != AttemptState.PENDING:
        return
    visit_no = sum(1 for a in await tx.attempts() if a.channel == CHANNEL and a.id <= attempt.id)
    due_at = _task_deadline(ctx, tx, attempt)
    candidates = await court_field_servers(tx.conn, tx.dispatch.court)
    assignee = await _choose_assignee(tx.conn, tx.dispatch.court, tx.dispatch.id, candidates)
    task_id = new_id()
    await tx.conn.execute(
        field_tasks.insert().values(
            id=task_id,
            attempt_id=attempt.id,
            dispatch_id=tx.dispatch.id,
            court=tx.dispatch.court,
            assignee_id=assignee,
            visit_no=visit_no,
            state=TaskState.OPEN,
            due_at=due_at,
            assigned_at=tx.now if assignee else None,
            created_at=tx.now,
        )
    )
    attempt.provider_ref = task_id
    attempt.sent_at = tx.now
    attempt.next_action_at = None
    tx.change_attempt(
        attempt,
        AttemptState.SENT,
        "field_task_opened",
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
            "field_task_unassigned",
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
    task = (
        (
            await tx.conn.execute(
                sa.select(field_tasks).where(
                    field_tasks.c.id == task_id, field_tasks.c.dispatch_id == tx.dispatch.id
                )
            )
        )
        .mappings()
        .first()
    )
    if task is None:
        raise AssignmentRefused("task_id must name a field task of this dispatch")
    attempt = await tx.attempt(task["attempt_id"])
    if task["state"] != TaskState.OPEN or attempt is None or attempt.state != AttemptState.SENT:
        raise AssignmentRefused("the task is no longer open")
    servers = await court_field_servers(tx.conn, tx.dispatch.court)
    if field_server_id not in {s.id for s in servers}:
        raise AssignmentRefused(
            "field_server must be the id of an active field server of the dispatch's court"
        )
    await tx.conn.execute(
        field_tasks.update()
        .where(field_tasks.c.id == task_id)
        .values(assignee_id=field_server_id, assigned_at=tx.now)
    )
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
        return self.state == TaskState.OPEN and self.attempt_state == AttemptState.SENT.value

    @property
    def has_mediation_statement(self) -> bool:
        return any(kind == MEDIATION_STATEMENT for _title, kind in self.documents)


def _task_query() -> sa.Select[Any]:
    t = field_tasks
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


async def _views(ctx: Context, conn: AsyncConnection, rows: list[Any]) -> list[TaskView]:
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
    t = field_tasks
    query = _task_query().where(
        t.c.state == TaskState.OPEN,
        t.c.court.in_(courts),
        attempts.c.state == AttemptState.SENT.value,
    )
    if assignee_id is not None:
        query = query.where(t.c.assignee_id == assignee_id)
    query = query.order_by(t.c.due_at.is_(None), t.c.due_at, t.c.created_at, t.c.id)
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        return await _views(ctx, conn, list((await conn.execute(query)).all()))


async def task_for(ctx: Context, task_id: str, courts: tuple[str, ...]) -> TaskView:
    """One task in the caller's courts, or :class:`TaskNotFound`."""
    query = _task_query().where(field_tasks.c.id == task_id, field_tasks.c.court.in_(courts))
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        found = await _views(ctx, conn, list((await conn.execute(query)).all()))
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


# --- Recording a visit ---


@dataclass(frozen=True)
class Media:
    stored: StoredFile
    media_type: str
    purpose: str  # visit_photo, visit_video, signature


@dataclass(frozen=True)
class Visit:
    """A validated outcome form (see channels/in_person/visit_form.py for the checks)."""

    outcome: str
    visited_at: datetime
    relation: str | None = None
    receiver_name: str | None = None
    witness: dict[str, str] | None = None
    place: str | None = None
    reason: str | None = None
    media: tuple[Media, ...] = ()
    signature: Media | None = None
    geolocation: dict[str, float] | None = None
    note: str | None = None


VISIT_EVENTS = {
    "served": ("visit_served", AttemptState.DELIVERED),
    "refused_left": ("visit_refused_left", AttemptState.REFUSED),
    "refused_filmed": ("visit_refused_filmed", AttemptState.REFUSED),
    "failed": ("visit_failed", AttemptState.FAILED),
}


class MediationStatement(Exception):
    """CPL-INT-133: a mediation statement is never served by leaving it."""


async def record_visit(ctx: Context, task_id: str, visit: Visit, by: StaffUser) -> TaskView:
    """Record one visit: the event on the attempt, the evidence files' rows, the task done and
    the decision — all in one transaction. Raises :class:`TaskNotFound`, :class:`NotYourTask`,
    :class:`TaskClosed` or :class:`MediationStatement`."""
    task = await task_for(ctx, task_id, by.courts)
    if not may_record(by, task):
        raise NotYourTask(task_id)
    async with dispatch_transaction(ctx.engine, ctx.clock, task.dispatch_id) as tx:
        row = (
            await tx.conn.execute(
                sa.select(field_tasks.c.state, field_tasks.c.assignee_id).where(
                    field_tasks.c.id == task_id
                )
            )
        ).first()
        attempt = await tx.attempt(task.attempt_id)
        assert row is not None
        if row.assignee_id != by.id:
            raise NotYourTask(task_id)  # reassigned meanwhile
        if (
            row.state != TaskState.OPEN
            or attempt is None
            or attempt.state != AttemptState.SENT
            or not tx.dispatch.is_open
        ):
            raise TaskClosed(task_id)
        if visit.outcome == "refused_left" and MEDIATION_STATEMENT in tx.dispatch.document_kinds:
            raise MediationStatement(task_id)
        data = await _visit_data(tx, attempt, visit, by)
        event_type, state = VISIT_EVENTS[visit.outcome]
        attempt.next_action_at = None
        tx.change_attempt(
            attempt,
            state,
            event_type,
            source=SOURCE,
            actor=by.actor,
            reason=visit.reason if visit.outcome == "failed" else None,
            data=data,
            occurred_at=visit.visited_at,
        )
        await tx.conn.execute(
            field_tasks.update()
            .where(field_tasks.c.id == task_id)
            .values(state=TaskState.DONE, completed_at=tx.now)
        )
        await decide_now(ctx, tx)
    await ctx.queue.after_commit(tx.followups)
    log.info(
        "visit recorded",
        extra={"dispatch_id": task.dispatch_id, "task_id": task_id, "outcome": visit.outcome},
    )
    return task


async def _store_media_row(
    tx: DispatchTransaction, attempt: Attempt, media: Media, by: StaffUser
) -> str:
    return await tx.add_media(attempt.id, media.purpose, media.stored, media.media_type, by.actor)


async def _visit_data(
    tx: DispatchTransaction, attempt: Attempt, visit: Visit, by: StaffUser
) -> dict[str, Any]:
    data: dict[str, Any] = {"task_id": attempt.provider_ref, "outcome": visit.outcome}
    if visit.outcome == "served":
        data["relation"] = visit.relation
        data["receiver_name"] = visit.receiver_name
    if visit.outcome == "refused_left" and visit.witness:
        data["witness"] = visit.witness
    if visit.outcome == "refused_filmed":
        data["place"] = visit.place
    if visit.outcome == "failed":
        data["reason"] = visit.reason
    if visit.media:
        data["media"] = [
            {
                "media_id": await _store_media_row(tx, attempt, m, by),
                "sha256": m.stored.sha256,
                "media_type": m.media_type,
                "size": m.stored.size,
            }
            for m in visit.media
        ]
    if visit.signature is not None:
        data["signature"] = {
            "media_id": await _store_media_row(tx, attempt, visit.signature, by),
            "sha256": visit.signature.stored.sha256,
        }
    if visit.geolocation is not None:
        data["geolocation"] = visit.geolocation
    if visit.note:
        data["note"] = visit.note
    data["visited_at"] = rfc3339(visit.visited_at)
    return data
