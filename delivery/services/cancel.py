"""Cancelling a dispatch at the case system's request: open attempts end, nothing more is sent."""

from __future__ import annotations

from delivery.context import Context
from delivery.domain import OPEN_ATTEMPT_STATES, AttemptState, DispatchState
from delivery.services.transactions import dispatch_transaction
from delivery.vocabulary import EventType


class NotCancellable(Exception):
    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


async def cancel_dispatch(
    ctx: Context, dispatch_id: str, *, actor: str, reason: str | None
) -> None:
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        if not tx.dispatch.is_open:
            raise NotCancellable(tx.dispatch.state.value)
        for attempt in await tx.attempts():
            if attempt.state in OPEN_ATTEMPT_STATES:
                attempt.next_action_at = None
                tx.change_attempt(
                    attempt,
                    AttemptState.CANCELLED,
                    EventType.ATTEMPT_CANCELLED,
                    source="api",
                    actor=actor,
                    reason="dispatch_cancelled",
                )
        tx.dispatch.next_action_at = None
        tx.change_dispatch(
            DispatchState.CANCELLED,
            EventType.DISPATCH_CANCELLED,
            source="api",
            actor=actor,
            reason=reason or "cancelled_by_case_system",
        )
    await ctx.queue.after_commit(tx.followups)
