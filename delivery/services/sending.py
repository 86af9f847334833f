"""``send``: one try of one attempt through its channel.

Three steps so that no database transaction is held open while a provider is talked to:
claim the attempt (``pending → sending``, with a lease), call the channel, record the outcome.
A worker killed mid-send leaves the attempt ``sending`` until its lease runs out; the sweep then
puts it back to ``pending`` and it is sent again with the same Message-ID.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from delivery.channel_api import SendOutcome, SendResult, ServiceMessage
from delivery.context import Context
from delivery.domain import Attempt, AttemptState
from delivery.services.progress import decide_now
from delivery.storage.unit_of_work import dispatch_transaction
from tracking.links import LinkClaims, issue_token

log = logging.getLogger(__name__)
SENDING_LEASE = timedelta(minutes=10)
RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
)
MAX_TRIES = len(RETRY_DELAYS) + 1


def link_for(ctx: Context, attempt: Attempt) -> tuple[str, LinkClaims]:
    assert attempt.link_issued_at is not None
    claims = LinkClaims(
        attempt_id=attempt.id,
        issued_at=attempt.link_issued_at,
        expires_at=attempt.link_issued_at + timedelta(days=ctx.settings.link_ttl_days),
    )
    token = issue_token(ctx.settings.secret_key, claims)
    return f"{ctx.settings.public_base_url}/r/{token}", claims


async def send(ctx: Context, dispatch_id: str, attempt_id: str) -> None:
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        attempt = await tx.attempt(attempt_id)
        due = attempt is not None and (
            attempt.next_action_at is None or attempt.next_action_at <= tx.now
        )
        if attempt is None or attempt.state != AttemptState.PENDING or not due:
            return
        channel = ctx.channels.get(attempt.channel)
        if channel is None:
            attempt.next_action_at = None
            tx.touch_attempt(attempt)
            if attempt.reason != "channel_unavailable":
                attempt.reason = "channel_unavailable"
                tx.record(
                    "attempt_waiting",
                    source="worker",
                    attempt_id=attempt.id,
                    data={"reason": "channel_unavailable", "channel": attempt.channel},
                )
            return
        attempt.tries += 1
        attempt.next_action_at = tx.now + SENDING_LEASE
        tx.change_attempt(
            attempt,
            AttemptState.SENDING,
            "attempt_sending",
            source="worker",
            data={"try": attempt.tries},
        )
        link_url, claims = link_for(ctx, attempt)
        message = ServiceMessage(
            attempt_id=attempt.id,
            dispatch_id=dispatch_id,
            address=attempt.address,
            locale=tx.dispatch.locale,
            court=tx.dispatch.court,
            case_number=tx.dispatch.case_number,
            recipient_name=tx.dispatch.recipient_name,
            document_titles=tuple(d.title for d in await tx.documents()),
            link_url=link_url,
            link_expires_at=claims.expires_at,
            time_zone=ctx.settings.time_zone,
            composed_at=tx.now,
        )
    await ctx.queue.after_commit(tx.followups)

    result = await channel.send(message)
    log.info(
        "send outcome",
        extra={"dispatch_id": dispatch_id, "attempt_id": attempt_id, "outcome": result.outcome},
    )
    await record_result(ctx, dispatch_id, attempt_id, result)


async def record_result(
    ctx: Context, dispatch_id: str, attempt_id: str, result: SendResult
) -> None:
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        attempt = await tx.attempt(attempt_id)
        if attempt is None or attempt.state != AttemptState.SENDING:
            return  # the lease ran out and the sweep took the attempt back
        source = attempt.channel
        if result.outcome == SendOutcome.ACCEPTED:
            attempt.provider_ref = result.provider_ref
            attempt.sent_at = tx.now
            attempt.next_action_at = None
            tx.change_attempt(
                attempt,
                AttemptState.SENT,
                "attempt_sent",
                source=source,
                data={"provider_ref": result.provider_ref, "reply": result.detail},
            )
            await decide_now(ctx, tx)
        elif result.outcome == SendOutcome.PERMANENT or attempt.tries >= MAX_TRIES:
            attempt.next_action_at = None
            tx.change_attempt(
                attempt,
                AttemptState.FAILED,
                "attempt_failed",
                source=source,
                reason=result.detail[:500],
                data={"tries": attempt.tries},
            )
            await decide_now(ctx, tx)
        else:
            retry_at = tx.now + RETRY_DELAYS[attempt.tries - 1]
            attempt.next_action_at = retry_at
            tx.change_attempt(
                attempt,
                AttemptState.PENDING,
                "attempt_retry_scheduled",
                source=source,
                reason=result.detail[:500],
                data={"tries": attempt.tries, "retry_at": retry_at.isoformat()},
            )
    await ctx.queue.after_commit(tx.followups)
