"""``advance``: ask escalation what comes next and carry it out, in one transaction."""

from __future__ import annotations

import logging

from delivery.clock import rfc3339
from delivery.context import Context
from delivery.domain import Attempt, AttemptState, Contact, ContactSource, DispatchState
from delivery.identity import address_digest
from delivery.ids import new_id
from delivery.services.timestamps import record_checkpoint
from delivery.services.transactions import dispatch_transaction
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import EventType, WebhookEventType
from escalation.actions import (
    Action,
    CloseAttempt,
    CompleteService,
    Fail,
    FlagAtRisk,
    NewAttempt,
    RepeatAttempts,
    SkipStep,
    StartStep,
    WaitUntil,
)
from escalation.calendar import CourtDays
from escalation.decide import decide
from escalation.periods import periods_from_service
from escalation.policy import NOTICE_CHANNEL
from escalation.service_date import service_date

log = logging.getLogger(__name__)
SOURCE = "escalation"
# What closing an attempt records: decide ends attempts only as cancelled or expired.
CLOSING_EVENTS = {
    AttemptState.CANCELLED: EventType.ATTEMPT_CANCELLED,
    AttemptState.EXPIRED: EventType.ATTEMPT_EXPIRED,
}
# What a public-notice attempt records as its "address": it serves the public, not an address.
NOTICE_ADDRESS = "public_notice"


async def advance(ctx: Context, dispatch_id: str) -> None:
    """The timer path: a window is due (the sweep found ``next_action_at`` passed)."""
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        await decide_now(ctx, tx)
    await ctx.queue.after_commit(tx.followups)


async def decide_now(ctx: Context, tx: DispatchTransaction) -> None:
    """Decide and act inside the caller's transaction.

    Receipts call this in the transaction that records them, so a receipt and the service it
    completes (or the escalation it triggers) commit together, with no job in between.
    """
    if not tx.dispatch.is_open:
        return
    await tx.load_contacts()
    # Only a decision that waits sets a timer; one that needs a person (a notice awaiting
    # approval) leaves none, so the sweep does not wake it for nothing.
    tx.dispatch.next_action_at = None
    actions = decide(
        tx.dispatch,
        await tx.attempts(),
        await tx.events(),
        tx.now,
        ctx.policies.get(tx.dispatch.policy, tx.dispatch.court),
        CourtDays(ctx.calendar, ctx.settings.zone),
    )
    for action in actions:
        await _apply(ctx, tx, action)
    if not tx.dispatch.is_open:
        log.info(
            "dispatch closed",
            extra={
                "dispatch_id": tx.dispatch.id,
                "state": tx.dispatch.state.value,
                "legal_basis": tx.dispatch.legal_basis,
                "reason": tx.dispatch.state_reason,
            },
        )


def start_attempt(
    ctx: Context,
    tx: DispatchTransaction,
    step_index: int,
    channel: str,
    contact: Contact | None,
    *,
    source: str,
) -> Attempt:
    """A new attempt on ``channel`` at ``contact`` (none for a public notice), to be sent — or
    opened, for the court's own channels — once the transaction commits."""
    address = contact.value if contact is not None else NOTICE_ADDRESS
    attempt = Attempt(
        id=new_id(),
        dispatch_id=tx.dispatch.id,
        step_index=step_index,
        channel=channel,
        contact_id=contact.id if contact is not None else None,
        address=address,
        source=contact.source if contact is not None else ContactSource.COURT_FOUND,
        state=AttemptState.PENDING,
        created_at=tx.now,
        next_action_at=tx.now,
        link_issued_at=tx.now,
    )
    tx.add_attempt(
        attempt,
        source=source,
        address_digest=address_digest(ctx.settings.secret_key, address),
    )
    # Every message and letter carries a notice code the recipient can check at /check.
    tx.add_notice_code(attempt.id)
    return attempt


def _start_planned(
    ctx: Context, tx: DispatchTransaction, index: int, planned: tuple[NewAttempt, ...]
) -> None:
    contacts = {c.id: c for c in tx.dispatch.contacts}
    for new in planned:
        contact = contacts[new.contact_id] if new.contact_id is not None else None
        start_attempt(ctx, tx, index, new.channel, contact, source=SOURCE)


async def _apply(ctx: Context, tx: DispatchTransaction, action: Action) -> None:
    dispatch = tx.dispatch
    match action:
        case StartStep(index=index, name=name, attempts=new):
            first = dispatch.state == DispatchState.QUEUED
            dispatch.step_index = index
            dispatch.step_started_at = tx.now
            data = {"step": index, "name": name, "attempts": len(new)}
            if first:
                tx.change_dispatch(
                    DispatchState.IN_PROGRESS, EventType.STEP_STARTED, source=SOURCE, data=data
                )
            else:
                tx.record(EventType.STEP_STARTED, source=SOURCE, data=data)
                tx.notify(WebhookEventType.DISPATCH_ESCALATED, {"step": index, "step_name": name})
            _start_planned(ctx, tx, index, new)
            if any(planned.channel == NOTICE_CHANNEL for planned in new):
                # CPL-95: public notice needs a supervisor's approval before it is published.
                tx.change_dispatch(
                    DispatchState.NOTICE_PENDING, EventType.NOTICE_AWAITING_APPROVAL, source=SOURCE
                )
        case RepeatAttempts(index=index, attempts=again):
            tx.record(
                EventType.STEP_REPEATED, source=SOURCE, data={"step": index, "attempts": len(again)}
            )
            _start_planned(ctx, tx, index, again)
        case SkipStep(index=index, name=name, reason=reason):
            tx.record(
                EventType.STEP_SKIPPED,
                source=SOURCE,
                data={"step": index, "name": name, "reason": reason},
            )
        case CompleteService(completion=done):
            dispatch.served_at = done.served_at
            dispatch.service_date = service_date(done.served_at, ctx.settings.zone)
            dispatch.served_by_channel = done.channel
            dispatch.legal_basis = done.rule_id
            dispatch.next_action_at = None
            dispatch.periods = [
                p.as_json()
                for p in periods_from_service(
                    done.served_at,
                    [(d.id, d.kind) for d in await tx.documents()],
                    domicile_in_china=dispatch.domicile_in_china,
                    hearing_at=dispatch.hearing_at,
                    court_days=CourtDays(ctx.calendar, ctx.settings.zone),
                )
            ]
            tx.change_dispatch(
                DispatchState.SERVED,
                EventType.DISPATCH_SERVED,
                source=SOURCE,
                data={
                    "legal_basis": done.rule_id,
                    "reading": done.reading,
                    "served_at": rfc3339(done.served_at),
                    "service_date": dispatch.service_date.isoformat(),
                    "channel": done.channel,
                    "attempt_id": done.attempt_id,
                    "completing_event_id": done.event_id,
                    "periods": dispatch.periods,
                },
            )
            # The court key signs the chain as it stands at service (the head the certificate
            # pins), in the same transaction (docs/decisions/0010); the TSA's token for it
            # follows by a job (docs/decisions/0021).
            record_checkpoint(ctx, tx, source=SOURCE)
        case CloseAttempt(attempt_id=attempt_id, state=state, reason=reason):
            attempt = await tx.attempt(attempt_id)
            assert attempt is not None
            attempt.next_action_at = None
            tx.change_attempt(
                attempt,
                AttemptState(state),
                CLOSING_EVENTS[AttemptState(state)],
                source=SOURCE,
                reason=reason,
            )
        case Fail(reason=reason):
            dispatch.next_action_at = None
            tx.change_dispatch(
                DispatchState.FAILED, EventType.DISPATCH_FAILED, source=SOURCE, reason=reason
            )
        case FlagAtRisk(deadline=deadline, step_ends=step_ends):
            data = {"service_deadline_at": rfc3339(deadline), "step_ends_at": rfc3339(step_ends)}
            tx.record(EventType.DISPATCH_AT_RISK, source=SOURCE, data=data)
            tx.notify(WebhookEventType.DISPATCH_AT_RISK, data)
        case WaitUntil(when=when):
            dispatch.next_action_at = when
