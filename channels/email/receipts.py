"""E-mail bounces: proof that a message the court's server accepted never arrived.

A bounce processor at the court (the system reading the bounce mailbox, or the relay's own
notification hook) reports each delivery status notification by the original Message-ID *and*
the recipient address it bounced for, through ``POST /api/v1/bounces`` with an API key of the
court that holds the ``bounces`` scope. The Message-ID alone is no proof: every key of the
court sees it in webhooks; the address must be the attempt's too. The attempt becomes
``bounced``; when its acceptance was what served the dispatch (CPL-INT-135), service is reversed:
the dispatch goes back to ``in_progress`` with ``dispatch.unserved``, and the ladder resumes from
where it stands.
"""

from __future__ import annotations

from dataclasses import dataclass

from delivery.context import Context
from delivery.domain import AttemptState
from delivery.services.progress import decide_now
from delivery.services.reversal import completing_event, unserve
from delivery.services.transactions import dispatch_transaction
from delivery.storage.attempts import email_attempt
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import EventType

BOUNCEABLE = frozenset({AttemptState.SENT, AttemptState.DELIVERED})


class RecipientMismatch(Exception):
    """The Message-ID was sent, but not to the address the bounce names."""


@dataclass(frozen=True)
class BounceOutcome:
    dispatch_id: str
    attempt_id: str
    recorded: bool  # False: already bounced, or no longer bounceable (read)
    unserved: bool


def same_address(one: str, other: str) -> bool:
    """E-mail addresses as mail servers compare them in practice: case and spaces aside."""
    return one.strip().lower() == other.strip().lower()


async def _find(
    ctx: Context, message_id: str, recipient: str, courts: tuple[str, ...]
) -> tuple[str, str] | None:
    row = await email_attempt(ctx.engine, message_id, courts)
    if row is None:
        return None
    if not same_address(row.address, recipient):
        raise RecipientMismatch(message_id)
    return row.dispatch_id, row.id


async def record_bounce(
    ctx: Context,
    message_id: str,
    recipient: str,
    diagnostic: str,
    *,
    courts: tuple[str, ...],
    actor: str,
) -> BounceOutcome | None:
    """Record a bounce for the attempt that sent ``message_id`` to ``recipient``; ``None`` if
    there is none, :class:`RecipientMismatch` if it went to another address."""
    found = await _find(ctx, message_id, recipient, courts)
    if found is None:
        return None
    dispatch_id, attempt_id = found
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        attempt = await tx.attempt(attempt_id)
        assert attempt is not None
        if attempt.state not in BOUNCEABLE:
            return BounceOutcome(dispatch_id, attempt_id, recorded=False, unserved=False)
        tx.change_attempt(
            attempt,
            AttemptState.BOUNCED,
            EventType.ATTEMPT_BOUNCED,
            source="bounce",
            actor=actor,
            reason=diagnostic[:500],
            data={"message_id": message_id, "recipient": recipient},
        )
        unserved = await _reverse_if_served_by(tx, attempt_id, actor)
        await decide_now(ctx, tx)
    await ctx.queue.after_commit(tx.followups)
    return BounceOutcome(dispatch_id, attempt_id, recorded=True, unserved=unserved)


async def _reverse_if_served_by(tx: DispatchTransaction, attempt_id: str, actor: str) -> bool:
    """Un-serve the dispatch when this attempt's acceptance was the service."""
    served = await completing_event(tx)
    if served is None or served.data.get("attempt_id") != attempt_id:
        return False
    unserve(
        tx, served, reason="bounce", source="bounce", actor=actor, data={"attempt_id": attempt_id}
    )
    return True
