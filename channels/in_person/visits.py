"""In-person service: recording one visit's outcome (domain.md, "In-person outcomes").

:func:`record_visit` records the outcome a field server's form describes (validated by
``channels.in_person.pages``) in one transaction with the attempt's state change, the evidence
files' rows and the decision (service, the next visit, or escalation). Who may receive and
whether documents may be left are escalation's rules (``escalation.receivers``); the form's
choices are derived from them here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channels.in_person.tasks import (
    SOURCE,
    NotYourTask,
    TaskClosed,
    TaskView,
    may_record,
    task_for,
)
from delivery.clock import rfc3339
from delivery.context import Context
from delivery.domain import Attempt, AttemptState
from delivery.infra.document_store import StoredFile
from delivery.services.progress import decide_now
from delivery.services.transactions import dispatch_transaction
from delivery.staff import StaffUser
from delivery.storage import field_tasks as stored_tasks
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import FieldTaskState
from escalation.receivers import MEDIATION_STATEMENT, may_leave, may_receive

log = logging.getLogger(__name__)

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
    if may_receive(r)
)
# CPL-INT-133 (the rule is escalation's): the form offers only these for a mediation statement.
MEDIATION_RECEIVERS = tuple(r for r in RELATIONS if may_receive(r, {MEDIATION_STATEMENT}))
FILMED_PLACES = ("away_from_home", "court")
# not found / moved / no such address; "refused_not_left": refused and the documents could not
# (a mediation statement, CPL-INT-133) or were not left — the visit fails.
FAILURE_REASONS = ("not_found", "moved", "no_such_address", "refused_not_left")


@dataclass(frozen=True)
class Media:
    stored: StoredFile
    media_type: str
    purpose: str  # visit_photo, visit_video, signature


@dataclass(frozen=True)
class Visit:
    """A validated outcome form (see channels/in_person/pages.py for the checks)."""

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
        row = await stored_tasks.state_and_assignee(tx.conn, task_id)
        attempt = await tx.attempt(task.attempt_id)
        assert row is not None
        if row.assignee_id != by.id:
            raise NotYourTask(task_id)  # reassigned meanwhile
        if (
            row.state != FieldTaskState.OPEN
            or attempt is None
            or attempt.state != AttemptState.SENT
            or not tx.dispatch.is_open
        ):
            raise TaskClosed(task_id)
        if visit.outcome == "refused_left" and not may_leave(tx.dispatch.document_kinds):
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
        await stored_tasks.complete(tx.conn, task_id, tx.now)
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
