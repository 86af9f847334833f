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
from delivery.clock import rfc3339
from delivery.context import Context
from delivery.domain import Attempt, AttemptState
from delivery.services import postal
from delivery.services.court_channels import COURT_CHANNELS
from delivery.services.progress import decide_now
from delivery.storage.notice_codes import code_of_attempt, code_row, insert_codes
from delivery.storage.unit_of_work import DispatchTransaction, dispatch_transaction
from tracking.links import LinkClaims, issue_token
from tracking.notice_codes import display

log = logging.getLogger(__name__)
SENDING_LEASE = timedelta(minutes=10)
CHANNEL_RETRY = timedelta(minutes=5)
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
        opener = COURT_CHANNELS.get(attempt.channel)
        channel = ctx.channels.get(attempt.channel)
        message = None
        if opener is not None:
            await opener(ctx, tx, attempt)
        elif channel is None:
            _wait_for_channel(tx, attempt)
        else:
            message = await _claim(ctx, tx, attempt)
    await ctx.queue.after_commit(tx.followups)
    if message is None or channel is None:
        return

    result = await channel.send(message)
    log.info(
        "send outcome",
        extra={"dispatch_id": dispatch_id, "attempt_id": attempt_id, "outcome": result.outcome},
    )
    await record_result(ctx, dispatch_id, attempt_id, result)


def _wait_for_channel(tx: DispatchTransaction, attempt: Attempt) -> None:
    """Not configured in this process: look again later (the sweep), recorded once."""
    attempt.next_action_at = tx.now + CHANNEL_RETRY
    tx.touch_attempt(attempt)
    if attempt.reason != "channel_unavailable":
        attempt.reason = "channel_unavailable"
        tx.record(
            "attempt_waiting",
            source="worker",
            attempt_id=attempt.id,
            data={"reason": "channel_unavailable", "channel": attempt.channel},
        )


async def _claim(ctx: Context, tx: DispatchTransaction, attempt: Attempt) -> ServiceMessage:
    """``pending → sending`` with a lease, and the message the channel is to send."""
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
    return ServiceMessage(
        attempt_id=attempt.id,
        dispatch_id=tx.dispatch.id,
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
        postcode=await _postcode(tx, attempt) if attempt.channel == "postal" else None,
        notice_code=display(await _notice_code(tx, attempt)),
        check_url=check_url(ctx),
    )


async def _notice_code(tx: DispatchTransaction, attempt: Attempt) -> str:
    """The attempt's notice code; an attempt created before codes existed gets one now."""
    code = await code_of_attempt(tx.conn, attempt.id)
    if code is None:
        row = code_row(tx.dispatch.id, attempt.id, tx.now)
        code = (await insert_codes(tx.conn, [row]))[attempt.id]
    return code


def check_url(ctx: Context) -> str:
    """Where a recipient checks a notice code: the court's own address, from configuration."""
    return f"{ctx.settings.public_base_url}/check"


async def record_result(
    ctx: Context, dispatch_id: str, attempt_id: str, result: SendResult
) -> None:
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        attempt = await tx.attempt(attempt_id)
        if attempt is None:
            return
        if attempt.state != AttemptState.SENDING:
            # The lease ran out (or the dispatch closed) while the provider was talking. An
            # acceptance still happened and, for a confirmed address, is service: keep it.
            if result.outcome == SendOutcome.ACCEPTED:
                tx.record(
                    "attempt_sent",
                    source=attempt.channel,
                    attempt_id=attempt.id,
                    data={"late": True, **_sent_data(result)},
                )
                await postal.record_piece(ctx, tx, attempt, result.provider_ref)
                await decide_now(ctx, tx)
        elif result.outcome == SendOutcome.ACCEPTED:
            attempt.provider_ref = result.provider_ref
            attempt.sent_at = tx.now
            attempt.next_action_at = None
            tx.change_attempt(
                attempt,
                AttemptState.SENT,
                "attempt_sent",
                source=attempt.channel,
                data=_sent_data(result),
            )
            await postal.record_piece(ctx, tx, attempt, result.provider_ref)
            await decide_now(ctx, tx)
        elif result.outcome == SendOutcome.UNAVAILABLE:
            _channel_unavailable(tx, attempt, result)
        elif result.outcome == SendOutcome.PERMANENT or attempt.tries >= MAX_TRIES:
            attempt.next_action_at = None
            tx.change_attempt(
                attempt,
                AttemptState.FAILED,
                "attempt_failed",
                source=attempt.channel,
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
                source=attempt.channel,
                reason=result.detail[:500],
                data={"tries": attempt.tries, "retry_at": rfc3339(retry_at)},
            )
    await ctx.queue.after_commit(tx.followups)


async def _postcode(tx: DispatchTransaction, attempt: Attempt) -> str | None:
    """Postal attempts only: the postcode of the address (it is on the contact)."""
    await tx.load_contacts()
    contact = next((c for c in tx.dispatch.contacts if c.id == attempt.contact_id), None)
    return contact.postcode if contact else None


def _sent_data(result: SendResult) -> dict[str, str | None]:
    return {"provider_ref": result.provider_ref, "reply": result.detail}


def _channel_unavailable(tx: DispatchTransaction, attempt: Attempt, result: SendResult) -> None:
    """The court's own relay refused us: wait and try again, without using up the attempt."""
    log.error(
        "channel unavailable",
        extra={"attempt_id": attempt.id, "channel": attempt.channel, "detail": result.detail},
    )
    attempt.tries -= 1
    attempt.next_action_at = tx.now + CHANNEL_RETRY
    tx.change_attempt(
        attempt,
        AttemptState.PENDING,
        "attempt_channel_unavailable",
        source=attempt.channel,
        reason=f"channel_unavailable: {result.detail}"[:500],
        data={"retry_at": rfc3339(attempt.next_action_at)},
    )
