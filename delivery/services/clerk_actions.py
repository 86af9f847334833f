"""What a clerk (for now through the case system's API key) may do to a dispatch by hand.

Every action is one transaction that records an event with the actor and the note, changes what
it changes, and lets escalation decide again — so an action never bypasses the legal rules: an
escalation closes the step and starts the next through ``decide``, a rebuttal takes the
completing event out of consideration and service is decided afresh.

The handlers are ``clerk_action_handlers.py``; here, which actions a state allows and the one
transaction each runs in.
"""

from __future__ import annotations

from delivery.context import Context
from delivery.domain import (
    ELECTRONIC_CHANNELS,
    OPEN_DISPATCH_STATES,
    RESUMABLE_FAILURES,
    Dispatch,
    DispatchState,
)
from delivery.services import confirmation_requests
from delivery.services.clerk_action_handlers import HANDLERS, cancel, reassign_owner
from delivery.services.clerk_action_handlers import OUTCOMES as OUTCOMES
from delivery.services.clerk_action_handlers import REBUTTALS as REBUTTALS
from delivery.services.clerk_action_handlers import ActionRefused as ActionRefused
from delivery.services.clerk_action_handlers import ActionRequest as ActionRequest
from delivery.services.progress import decide_now
from delivery.services.transactions import dispatch_transaction
from delivery.storage.unit_of_work import DispatchTransaction
from templates.texts import Code, wording

OPEN_ACTIONS = (
    "escalate",
    "skip_step",
    "retry_channel",
    "record_outcome",
    "add_contact",
    "repair_contact",
    "record_consent",
    "change_policy",
    "cancel",
    "assign_field_server",
    confirmation_requests.ACTION,
)
SERVED_ACTIONS = ("record_rebuttal",)
# Public notice (CPL-95): while the dispatch is notice_pending. approve_notice needs a supervisor.
NOTICE_ACTIONS = ("edit_notice", "approve_notice", "record_publication")
# Ownership is the service group's bookkeeping, not a step of service: allowed in every state
# (a served case's clerk still follows its appeal service).
OWNER_ACTIONS = ("reassign_owner",)
ALL_ACTIONS = OPEN_ACTIONS + SERVED_ACTIONS + NOTICE_ACTIONS + OWNER_ACTIONS


def allowed_actions(dispatch: Dispatch) -> list[str]:
    """The actions allowed in the dispatch's current state (shown with the dispatch)."""
    return _service_actions(dispatch) + list(OWNER_ACTIONS)


def _service_actions(dispatch: Dispatch) -> list[str]:
    if dispatch.state in OPEN_DISPATCH_STATES:
        actions = [a for a in OPEN_ACTIONS if a != "record_consent" or not dispatch.consent_given]
        if dispatch.state == DispatchState.NOTICE_PENDING:
            actions += NOTICE_ACTIONS
        return actions
    if dispatch.state == DispatchState.SERVED:
        # OLR-31's rebuttals (system error, not their address, read by someone else) are about
        # electronic service; a deemed or signed service is contested in court, not here.
        electronic = dispatch.served_by_channel in ELECTRONIC_CHANNELS
        return list(SERVED_ACTIONS) if electronic else []
    if dispatch.state == DispatchState.FAILED and dispatch.state_reason in RESUMABLE_FAILURES:
        return ["change_policy"]  # the case converted to ordinary procedure (CPL-INT-140)
    return []


async def perform(ctx: Context, dispatch_id: str, request: ActionRequest, *, actor: str) -> None:
    if request.action == "cancel":
        await cancel(ctx, dispatch_id, request, actor)
        return
    if request.action in OWNER_ACTIONS:
        await reassign_owner(ctx, dispatch_id, request, actor)
        return
    planned: list[confirmation_requests.Planned] = []
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        if request.action not in allowed_actions(tx.dispatch):
            raise ActionRefused(
                wording(
                    "%(action)s is not allowed while the dispatch is %(state)s",
                    action=Code("clerk_action", request.action),
                    state=Code("dispatch_state", tx.dispatch.state),
                )
            )
        await tx.load_contacts()
        if request.action == confirmation_requests.ACTION:
            planned = await _request_confirmation(ctx, tx, request, actor)
        else:
            await HANDLERS[request.action](ctx, tx, request, actor)
            await decide_now(ctx, tx)
    await ctx.queue.after_commit(tx.followups)
    # The one action with an outside effect of its own: its messages leave once the request
    # that names them is committed (delivery/services/confirmation_requests.py).
    await confirmation_requests.send_requests(ctx, dispatch_id, planned)


async def _request_confirmation(
    ctx: Context, tx: DispatchTransaction, request: ActionRequest, actor: str
) -> list[confirmation_requests.Planned]:
    try:
        return await confirmation_requests.record_request(ctx, tx, note=request.note, actor=actor)
    except confirmation_requests.RequestRefused as exc:
        raise ActionRefused(exc.reason) from None
