"""The clerk's actions, one handler each: what an action checks, records and changes.

Each handler runs inside the action's dispatch transaction (``clerk_actions.perform`` opens
it and lets escalation decide after); ``cancel`` and ``reassign_owner`` open their own. A
refused action raises :class:`ActionRefused` before anything is written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from channels.in_person import tasks as field_tasks
from channels.public_notice import notices, publications
from delivery.addresses import check_address
from delivery.context import Context
from delivery.domain import (
    ELECTRONIC_CHANNELS,
    Contact,
    ContactKind,
    ContactSource,
    DispatchState,
)
from delivery.identity import address_digest
from delivery.ids import new_id
from delivery.infra.document_store import EvidenceFile
from delivery.services import contact_repair, ownership, signed_proof
from delivery.services.cancel import NotCancellable, cancel_dispatch
from delivery.services.progress import start_attempt
from delivery.services.reversal import completing_event, unserve
from delivery.services.transactions import dispatch_transaction
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import CHANNEL_CONTACTS, EventType
from escalation.consent import may_serve_on
from templates.texts import Code, Text, wording

SOURCE = "clerk"
OUTCOMES = frozenset({signed_proof.OUTCOME})  # CPL-87; channel outcomes come with their channels
REBUTTALS = frozenset({"system_error", "not_their_address", "read_by_someone_else"})


class ActionRefused(Exception):
    """The action is not allowed now, or its details are wrong; the message says why."""

    def __init__(self, reason: str | Text, *, conflict: bool = True, field: str = "") -> None:
        super().__init__(str(reason))
        self.reason = reason
        self.conflict = conflict  # True: wrong for the dispatch's state (409); False: bad input
        self.field = field  # the detail that is wrong, where one is ("" when not one field)


@dataclass(frozen=True)
class ActionRequest:
    action: str
    note: str
    details: dict[str, Any]
    # The file that came with the action, stored but not yet recorded: record_publication's
    # photo or video of the posting (from the staff page), record_outcome's scan of the signed
    # proof (CPL-87). Recorded (a media_files row and its event) in the action's transaction.
    evidence: EvidenceFile | None = None


async def cancel(ctx: Context, dispatch_id: str, request: ActionRequest, actor: str) -> None:
    try:
        await cancel_dispatch(ctx, dispatch_id, actor=actor, reason=request.note)
    except NotCancellable as exc:
        raise ActionRefused(
            wording(
                "cancel is not allowed while the dispatch is %(state)s",
                state=Code("dispatch_state", exc.state),
            )
        ) from None


def _record(
    tx: DispatchTransaction, event_type: str, request: ActionRequest, actor: str, **data: Any
) -> None:
    tx.record(event_type, source=SOURCE, actor=actor, data={"note": request.note, **data})


def _step_count(ctx: Context, tx: DispatchTransaction) -> int:
    return len(ctx.policies.get(tx.dispatch.policy, tx.dispatch.court).steps)


async def _escalate(
    ctx: Context, tx: DispatchTransaction, request: ActionRequest, actor: str
) -> None:
    _record(tx, EventType.CLERK_ESCALATED, request, actor, step=tx.dispatch.step_index)


async def _skip_step(
    ctx: Context, tx: DispatchTransaction, request: ActionRequest, actor: str
) -> None:
    step = request.details.get("step")
    current = tx.dispatch.step_index or 0
    if not isinstance(step, int) or not current < step < _step_count(ctx, tx):
        raise ActionRefused(
            wording("step must be the number of a later step of the policy"), conflict=False
        )
    _record(tx, EventType.CLERK_SKIPPED_STEP, request, actor, step=step)


async def _retry_channel(
    ctx: Context, tx: DispatchTransaction, request: ActionRequest, actor: str
) -> None:
    channel = request.details.get("channel")
    kind = CHANNEL_CONTACTS.get(str(channel))
    if kind is None:
        raise ActionRefused(
            wording("channel must be email, sms, postal or in_person"), conflict=False
        )
    targets = [c for c in tx.dispatch.contacts if c.kind == kind]
    if not may_serve_on(str(channel), consent_given=tx.dispatch.consent_given):
        raise ActionRefused(wording("no e-service consent is recorded (OLR-29/30)"))
    if not targets:
        raise ActionRefused(
            wording(
                "the recipient has no address for %(channel)s", channel=Code("channel", channel)
            )
        )
    _record(tx, EventType.CLERK_RETRIED_CHANNEL, request, actor, channel=channel)
    step = _step_for(ctx, tx, str(channel))
    for contact in targets:
        start_attempt(ctx, tx, step, str(channel), contact, source=SOURCE)


def _step_for(ctx: Context, tx: DispatchTransaction, channel: str) -> int:
    """The step an attempt started by hand belongs to: the step under way — except during
    public notice, which has no window: there the attempt runs as part of the step that owns
    its channel, for that step's window, and the notice waits for it (CPL-95)."""
    steps = ctx.policies.get(tx.dispatch.policy, tx.dispatch.court).steps
    current = tx.dispatch.step_index or 0
    owners = [i for i in range(current) if channel in steps[i].channels]
    return owners[-1] if owners and not steps[current].timed else current


async def _record_outcome(
    ctx: Context, tx: DispatchTransaction, request: ActionRequest, actor: str
) -> None:
    """CPL-87: the signed proof came back — dated as written on it, with its scan
    (delivery/services/signed_proof.py)."""
    outcome = request.details.get("outcome")
    attempt = await tx.attempt(str(request.details.get("attempt_id")))
    if outcome not in OUTCOMES or attempt is None:
        raise ActionRefused(
            wording("needs outcome (proof_signed) and the attempt_id it belongs to"), conflict=False
        )
    try:
        await signed_proof.record(
            ctx, tx, attempt, request.details, request.evidence, note=request.note, actor=actor
        )
    except signed_proof.ProofRefused as exc:
        raise ActionRefused(exc.reason, conflict=False, field=exc.field) from None


async def _add_contact(
    ctx: Context, tx: DispatchTransaction, request: ActionRequest, actor: str
) -> None:
    details = request.details
    try:
        kind = ContactKind(str(details.get("kind")))
        source = ContactSource(str(details.get("source")))
    except ValueError:
        raise ActionRefused(
            wording("kind (email, phone, postal) and source are required"), conflict=False
        ) from None
    value, postcode = details.get("value"), details.get("postcode")
    problem: str | None = "the address, number or postal lines"
    if isinstance(value, str):
        value, problem = check_address(kind, value.strip())
    if (
        problem is None
        and postcode is not None
        and not (isinstance(postcode, str) and 0 < len(postcode) <= 20)
    ):
        problem = "postcode must be a short string"
    if problem is not None or not isinstance(value, str):
        raise ActionRefused(f"value: {problem}", conflict=False)
    contact = Contact(new_id(), kind, value, source, postcode)
    tx.add_contact(contact)
    _record(
        tx,
        EventType.CONTACT_ADDED,
        request,
        actor,
        contact_id=contact.id,
        kind=kind.value,
        source=source.value,
        address_hmac=address_digest(ctx.settings.secret_key, contact.value),
    )
    steps = ctx.policies.get(tx.dispatch.policy, tx.dispatch.court).steps
    current = tx.dispatch.step_index or 0
    # A new address found during public notice is tried by the first earlier step that can use
    # it (for an address, the post; a clerk may add a visit with retry_channel in_person).
    for index in [current] if steps[current].timed else range(current):
        usable = [
            channel
            for channel in steps[index].channels
            if CHANNEL_CONTACTS.get(channel) == kind
            and may_serve_on(channel, consent_given=tx.dispatch.consent_given)
        ]
        for channel in usable:
            start_attempt(ctx, tx, index, channel, contact, source=SOURCE)
        if usable:
            return


async def _repair_contact(
    ctx: Context, tx: DispatchTransaction, request: ActionRequest, actor: str
) -> None:
    """ICP-16: a contact a carrier or platform found, with its evidence
    (delivery/services/contact_repair.py)."""
    try:
        await contact_repair.repair_contact(
            ctx, tx, request.details, request.evidence, note=request.note, actor=actor
        )
    except contact_repair.RepairRefused as exc:
        raise ActionRefused(exc.reason, conflict=False, field=exc.field) from None


async def _record_consent(
    ctx: Context, tx: DispatchTransaction, request: ActionRequest, actor: str
) -> None:
    """OLR-29/30: consent recorded later re-opens electronic service on the known addresses."""
    basis = request.details.get("basis")
    if basis not in ("express", "contract", "filing", "tacit"):
        raise ActionRefused(
            wording("basis must be express, contract, filing or tacit"), conflict=False
        )
    tx.dispatch.consent_given = True
    tx.dispatch.consent_basis = str(basis)
    _record(tx, EventType.CONSENT_RECORDED, request, actor, basis=basis)
    for contact in tx.dispatch.contacts:
        for channel in ELECTRONIC_CHANNELS:
            if CHANNEL_CONTACTS[channel] == contact.kind:
                start_attempt(ctx, tx, 0, channel, contact, source=SOURCE)


async def _record_rebuttal(
    ctx: Context, tx: DispatchTransaction, request: ActionRequest, actor: str
) -> None:
    """OLR-31: the recipient proved a system error, that the address is not theirs, or that
    someone else read it. The completing event no longer counts; the ladder resumes."""
    reason = request.details.get("reason")
    if reason not in REBUTTALS:
        raise ActionRefused(f"reason must be one of {', '.join(sorted(REBUTTALS))}", conflict=False)
    served = await completing_event(tx)
    assert served is not None
    # The receipt that completed service (e.g. the SMTP acceptance) is what no longer counts.
    receipt = served.data.get("completing_event_id")
    _record(
        tx, EventType.SERVICE_REBUTTED, request, actor, reason=reason, completing_event_id=receipt
    )
    unserve(
        tx,
        served,
        reason=f"rebuttal: {reason}",
        source=SOURCE,
        actor=actor,
        data={"note": request.note},
    )


async def _change_policy(
    ctx: Context, tx: DispatchTransaction, request: ActionRequest, actor: str
) -> None:
    policy = request.details.get("policy")
    if policy not in ctx.policies.names_for(tx.dispatch.court) or policy == tx.dispatch.policy:
        raise ActionRefused(
            wording("policy must name another policy of this court"), conflict=False
        )
    steps = len(ctx.policies.get(str(policy), tx.dispatch.court).steps)
    if (tx.dispatch.step_index or 0) >= steps:
        # e.g. to cn-simplified during public notice: its ladder has no step to go on from.
        raise ActionRefused(
            f"policy {policy} has no step {tx.dispatch.step_index} to continue from",
            conflict=False,
        )
    _record(
        tx, EventType.POLICY_CHANGED, request, actor, previous=tx.dispatch.policy, policy=policy
    )
    tx.dispatch.policy = str(policy)
    if tx.dispatch.state == DispatchState.FAILED:
        # The ladder goes on from the step it ran out at, under the new policy.
        tx.change_dispatch(
            DispatchState.IN_PROGRESS, EventType.DISPATCH_RESUMED, source=SOURCE, actor=actor
        )


Handler = Callable[[Context, DispatchTransaction, ActionRequest, str], Awaitable[None]]


def _notice_action(action: notices.NoticeAction) -> Handler:
    """A public-notice action (channels/public_notice/) as a clerk action."""

    async def handler(
        ctx: Context, tx: DispatchTransaction, request: ActionRequest, actor: str
    ) -> None:
        try:
            await action(ctx, tx, request.details, request.note, actor)
        except notices.NoticeRefused as exc:
            raise ActionRefused(exc.reason, conflict=exc.conflict) from None

    return handler


async def _record_publication(
    ctx: Context, tx: DispatchTransaction, request: ActionRequest, actor: str
) -> None:
    """``record_publication``; with the page's photo or video, that is recorded first in the
    same transaction (a refused publication keeps neither)."""
    details = request.details
    try:
        if request.evidence is not None:
            media = await publications.record_media(tx, request.evidence, actor)
            details = {**details, "media_id": media["id"]}
        await publications.record_publication(ctx, tx, details, request.note, actor)
    except notices.NoticeRefused as exc:
        raise ActionRefused(exc.reason, conflict=exc.conflict) from None


# --- In person: a clerk assigns (or reassigns) a field task (channels/in_person/tasks.py) ---


async def _assign_field_server(
    ctx: Context, tx: DispatchTransaction, request: ActionRequest, actor: str
) -> None:
    task_id, server = request.details.get("task_id"), request.details.get("field_server")
    if not isinstance(task_id, str) or not isinstance(server, str):
        raise ActionRefused(
            wording("needs task_id (the field task) and field_server (a staff account id)"),
            conflict=False,
        )
    try:
        assigned = await field_tasks.assign_task(ctx, tx, task_id, server)
    except field_tasks.AssignmentRefused as exc:
        raise ActionRefused(str(exc), conflict=False) from None
    attempt_id = assigned.pop("attempt_id")
    tx.record(
        EventType.FIELD_TASK_ASSIGNED,
        source=SOURCE,
        actor=actor,
        attempt_id=attempt_id,
        data={"note": request.note, **assigned},
    )


# --- Ownership (delivery/services/ownership.py): no step of service, so no decision follows ---


async def reassign_owner(
    ctx: Context, dispatch_id: str, request: ActionRequest, actor: str
) -> None:
    owner_id = request.details.get("owner_id")
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        dispatch = tx.dispatch
        clerk = None
        if isinstance(owner_id, str):
            clerk = await ownership.clerk_of_court(tx.conn, dispatch.court, owner_id)
        if clerk is None:
            raise ActionRefused(
                wording("owner_id must be the staff id of an active clerk of the dispatch's court"),
                conflict=False,
            )
        if clerk.id == dispatch.owner_id:
            raise ActionRefused(wording("that clerk already owns the dispatch"))
        previous, dispatch.owner_id = dispatch.owner_id, clerk.id
        _record(
            tx,
            EventType.OWNER_REASSIGNED,
            request,
            actor,
            owner_id=clerk.id,
            previous_owner_id=previous,
        )


HANDLERS: dict[str, Handler] = {
    "escalate": _escalate,
    "skip_step": _skip_step,
    "retry_channel": _retry_channel,
    "record_outcome": _record_outcome,
    "add_contact": _add_contact,
    "repair_contact": _repair_contact,
    "record_consent": _record_consent,
    "record_rebuttal": _record_rebuttal,
    "change_policy": _change_policy,
    "edit_notice": _notice_action(notices.edit_notice),
    "approve_notice": _notice_action(publications.approve_notice),
    "record_publication": _record_publication,
    "assign_field_server": _assign_field_server,
}
