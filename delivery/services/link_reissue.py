"""Re-issuing a recipient link: the old link stops working and a fresh message carries a new one.

This is how a link locked after ten failed identity checks is released, and how a recipient who
lost the message gets another. It is a new attempt on the same address (one try = one attempt),
so the evidence shows both messages; the old attempt's link is revoked in the same transaction.
"""

from __future__ import annotations

from dataclasses import replace

from delivery.context import Context
from delivery.domain import ELECTRONIC_CHANNELS, Attempt, AttemptState, DispatchState
from delivery.identity import address_digest
from delivery.ids import new_id
from delivery.services.progress import decide_now
from delivery.services.transactions import dispatch_transaction
from delivery.vocabulary import EventType

REISSUABLE = frozenset({DispatchState.IN_PROGRESS, DispatchState.SERVED})


class NotReissuable(Exception):
    """The attempt has no link, or the dispatch's state does not allow sending another."""


async def reissue_link(ctx: Context, dispatch_id: str, attempt_id: str, *, actor: str) -> Attempt:
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        old = await tx.attempt(attempt_id)
        if old is None:
            raise KeyError(attempt_id)
        if old.channel not in ELECTRONIC_CHANNELS or old.link_issued_at is None:
            raise NotReissuable("this attempt has no recipient link")
        if tx.dispatch.state not in REISSUABLE:
            raise NotReissuable(f"the dispatch is {tx.dispatch.state.value}")
        old.link_issued_at = None
        tx.touch_attempt(old)
        new = replace(
            old,
            id=new_id(),
            state=AttemptState.PENDING,
            created_at=tx.now,
            tries=0,
            reason=None,
            provider_ref=None,
            next_action_at=tx.now,
            sent_at=None,
            link_issued_at=tx.now,
        )
        tx.record(
            EventType.LINK_REISSUED,
            source="api",
            actor=actor,
            attempt_id=old.id,
            data={"replaced_by": new.id},
        )
        tx.add_attempt(
            new, source="api", address_digest=address_digest(ctx.settings.secret_key, new.address)
        )
        tx.add_notice_code(new.id)  # the new message carries its own notice code
        if tx.dispatch.is_open:
            # A new link gets a whole window: the step restarts from now.
            tx.dispatch.step_started_at = tx.now
            await decide_now(ctx, tx)
    await ctx.queue.after_commit(tx.followups)
    return new
