"""``send``: one try of one attempt through its channel.

Three steps so that no database transaction is held open while a provider is talked to:
claim the attempt (``pending → sending``, naming the worker), call the channel, record the
outcome. A provider's acceptance is written to the worker's acceptance journal, with its own
time, before the database is tried (delivery/jobs/acceptance_journal.py): once journalled the
attempt is never sent again, and the acceptance is recorded — dated by itself — as soon as the
database takes it. A worker killed mid-send (outcome genuinely unknown) leaves the attempt
``sending`` until the sweep sees the worker's heartbeat stop; it is then put back to ``pending``
and sent again with the same Message-ID (docs/decisions/0024).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from delivery.channel_api import Channel as ChannelClient
from delivery.channel_api import SendOutcome, SendResult, ServiceMessage
from delivery.clock import rfc3339
from delivery.context import Context
from delivery.domain import Attempt, AttemptState
from delivery.jobs.acceptance_journal import Acceptance
from delivery.methods import COURT_CHANNELS, POLLERS
from delivery.services.progress import decide_now
from delivery.services.transactions import grouped_transaction
from delivery.storage.followups import FollowUps
from delivery.storage.notice_codes import code_row, insert_codes
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import Channel, EventType
from tracking.links import LinkClaims, issue_token
from tracking.notice_codes import display

log = logging.getLogger(__name__)
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
    journalled = ctx.journal.holds(attempt_id) if ctx.journal is not None else None
    if journalled is not None:
        # Accepted already, not yet in the database: record that, never send it again.
        await record_acceptance(ctx, journalled)
        return
    with _in_flight(ctx, attempt_id):
        await _send(ctx, dispatch_id, attempt_id)


@dataclass(frozen=True)
class _Claimed:
    """What a claim's transaction decided: the message to send (None: nothing to send now)."""

    followups: FollowUps
    channel_name: str = ""
    channel: ChannelClient | None = None
    message: ServiceMessage | None = None


async def _send(ctx: Context, dispatch_id: str, attempt_id: str) -> None:
    claimed = await grouped_transaction(
        ctx, dispatch_id, lambda tx: _claim_if_due(ctx, tx, attempt_id)
    )
    await ctx.queue.after_commit(claimed.followups)
    if claimed.message is None or claimed.channel is None:
        return

    result = await claimed.channel.send(claimed.message)
    log.info(
        "send outcome",
        extra={"dispatch_id": dispatch_id, "attempt_id": attempt_id, "outcome": result.outcome},
    )
    if result.outcome == SendOutcome.ACCEPTED:
        # The acceptance's own time, taken now, before anything else can fail or wait.
        accepted_at = result.accepted_at or ctx.clock.now()
        await record_acceptance(
            ctx,
            Acceptance(
                dispatch_id=dispatch_id,
                attempt_id=attempt_id,
                channel=claimed.channel_name,
                accepted_at=accepted_at,
                provider_ref=result.provider_ref,
                reply=result.detail,
                provider=result.provider,
                refusals=result.refusals,
            ),
        )
    else:
        await record_result(ctx, dispatch_id, attempt_id, result)


async def _claim_if_due(ctx: Context, tx: DispatchTransaction, attempt_id: str) -> _Claimed:
    """In the dispatch's transaction: open a court channel's attempt, wait for a channel this
    process lacks, or claim the attempt and compose its message — when it is pending and due."""
    attempt = await tx.attempt(attempt_id)
    due = attempt is not None and (
        attempt.next_action_at is None or attempt.next_action_at <= tx.now
    )
    if attempt is None or attempt.state != AttemptState.PENDING or not due:
        return _Claimed(tx.followups)
    opener = COURT_CHANNELS.get(attempt.channel)
    channel = ctx.channels.get(attempt.channel)
    if opener is not None:
        await opener(ctx, tx, attempt)
        return _Claimed(tx.followups)
    if channel is None:
        _wait_for_channel(tx, attempt)
        return _Claimed(tx.followups)
    message = await _claim(ctx, tx, attempt)
    return _Claimed(tx.followups, attempt.channel, channel, message)


@contextmanager
def _in_flight(ctx: Context, attempt_id: str) -> Iterator[None]:
    """Mark a claim as this live worker's own while it sends (its heartbeat loop releases only
    claims of its own that no job is working on any more)."""
    if ctx.liveness is None:
        yield
        return
    ctx.liveness.in_flight.add(attempt_id)
    try:
        yield
    finally:
        ctx.liveness.in_flight.discard(attempt_id)


async def record_acceptance(ctx: Context, acceptance: Acceptance) -> None:
    """Journal the acceptance durably, then record it in the database, then mark it recorded.

    If the database fails, the exception goes up (the job ends) and the journal entry stays:
    the worker's upkeep loop records it when the database is back. Recording is idempotent, so
    an entry replayed twice is recorded once.
    """
    journal = ctx.journal
    if journal is not None and journal.holds(acceptance.attempt_id) != acceptance:
        try:
            await journal.accepted(acceptance)
        except OSError:
            # A full or read-only disk must not cost the acceptance: record it straight away.
            log.exception(
                "acceptance journal not writable", extra={"attempt_id": acceptance.attempt_id}
            )
            journal = None
    result = SendResult(
        SendOutcome.ACCEPTED,
        acceptance.reply,
        provider_ref=acceptance.provider_ref,
        accepted_at=acceptance.accepted_at,
        provider=acceptance.provider,
        refusals=acceptance.refusals,
    )
    await record_result(ctx, acceptance.dispatch_id, acceptance.attempt_id, result)
    if journal is not None:
        await journal.recorded(acceptance)


async def replay_acceptances(ctx: Context) -> int:
    """Record every journalled acceptance the database does not hold yet; how many were
    replayed. Stops at the first database failure (the caller backs off)."""
    if ctx.journal is None:
        return 0
    pending = ctx.journal.pending
    for acceptance in pending:
        await record_acceptance(ctx, acceptance)
    return len(pending)


def _wait_for_channel(tx: DispatchTransaction, attempt: Attempt) -> None:
    """Not configured in this process: look again later (the sweep), recorded once."""
    attempt.next_action_at = tx.now + CHANNEL_RETRY
    tx.touch_attempt(attempt)
    if attempt.reason != "channel_unavailable":
        attempt.reason = "channel_unavailable"
        tx.record(
            EventType.ATTEMPT_WAITING,
            source="worker",
            attempt_id=attempt.id,
            data={"reason": "channel_unavailable", "channel": attempt.channel},
        )


async def _claim(ctx: Context, tx: DispatchTransaction, attempt: Attempt) -> ServiceMessage:
    """``pending → sending``, claimed by this worker, and the message the channel is to send."""
    attempt.tries += 1
    attempt.next_action_at = None
    attempt.claimed_by = ctx.liveness.worker_id if ctx.liveness is not None else None
    tx.change_attempt(
        attempt,
        AttemptState.SENDING,
        EventType.ATTEMPT_SENDING,
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
        postcode=await _postcode(tx, attempt) if attempt.channel == Channel.POSTAL else None,
        notice_code=display(await _notice_code(tx, attempt)),
        check_url=check_url(ctx),
    )


async def _notice_code(tx: DispatchTransaction, attempt: Attempt) -> str:
    """The attempt's notice code; an attempt created before codes existed gets one now."""
    code = await tx.notice_code(attempt.id)
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
    followups = await grouped_transaction(
        ctx, dispatch_id, lambda tx: _record(ctx, tx, attempt_id, result)
    )
    await ctx.queue.after_commit(followups)


async def _record(
    ctx: Context, tx: DispatchTransaction, attempt_id: str, result: SendResult
) -> FollowUps:
    """In the dispatch's transaction: what one try's result means for its attempt."""
    attempt = await tx.attempt(attempt_id)
    if attempt is None:
        return tx.followups
    if result.outcome == SendOutcome.ACCEPTED:
        await _accepted(ctx, tx, attempt, result)
    elif attempt.state != AttemptState.SENDING:
        pass  # released meanwhile (or the dispatch closed): this try's failure is moot
    elif result.outcome == SendOutcome.UNAVAILABLE:
        _channel_unavailable(tx, attempt, result)
    elif result.outcome == SendOutcome.PERMANENT or attempt.tries >= MAX_TRIES:
        attempt.next_action_at = None
        tx.change_attempt(
            attempt,
            AttemptState.FAILED,
            EventType.ATTEMPT_FAILED,
            source=attempt.channel,
            reason=result.detail[:500],
            data={"tries": attempt.tries, **_provider_data(result)},
        )
        await decide_now(ctx, tx)
    else:
        retry_at = tx.now + RETRY_DELAYS[attempt.tries - 1]
        attempt.next_action_at = retry_at
        tx.change_attempt(
            attempt,
            AttemptState.PENDING,
            EventType.ATTEMPT_RETRY_SCHEDULED,
            source=attempt.channel,
            reason=result.detail[:500],
            data={
                "tries": attempt.tries,
                "retry_at": rfc3339(retry_at),
                **_provider_data(result),
            },
        )
    return tx.followups


async def _postcode(tx: DispatchTransaction, attempt: Attempt) -> str | None:
    """Postal attempts only: the postcode of the address (it is on the contact)."""
    await tx.load_contacts()
    contact = next((c for c in tx.dispatch.contacts if c.id == attempt.contact_id), None)
    return contact.postcode if contact else None


def _sent_data(result: SendResult) -> dict[str, object]:
    return {"provider_ref": result.provider_ref, "reply": result.detail, **_provider_data(result)}


def _provider_data(result: SendResult) -> dict[str, object]:
    """An SMS answer's provider, the refusals before it, and whether its fate is unknown
    (docs/decisions/0045); nothing for the other channels."""
    if result.provider is None:
        return {}
    found: dict[str, object] = {"provider": result.provider}
    if result.refusals:
        found["refused_by"] = list(result.refusals)
    if result.unknown:
        found["outcome_unknown"] = True
    return found


async def _accepted(
    ctx: Context, tx: DispatchTransaction, attempt: Attempt, result: SendResult
) -> None:
    """Record an acceptance dated by itself (``attempt_sent`` at ``accepted_at``), once.

    An attempt still being sent (or released meanwhile and not sent again) becomes ``sent``. An
    acceptance of an attempt already past that — a genuinely ambiguous second send, or one
    recorded after the dispatch closed — is kept as evidence (``late``; ``duplicate`` when an
    earlier acceptance is known) and dates nothing: the rules take the earliest acceptance.
    """
    accepted_at = result.accepted_at or tx.now
    if attempt.state in (AttemptState.SENDING, AttemptState.PENDING):
        # Not recorded yet: recording it is what moves the attempt on.
        attempt.provider_ref = result.provider_ref
        attempt.sent_at = accepted_at
        attempt.next_action_at = None
        tx.change_attempt(
            attempt,
            AttemptState.SENT,
            EventType.ATTEMPT_SENT,
            source=attempt.channel,
            data=_sent_data(result),
            occurred_at=accepted_at,
        )
    elif await _already_recorded(tx, attempt.id, accepted_at):
        return  # a journal entry replayed again
    else:
        tx.record(
            EventType.ATTEMPT_SENT,
            source=attempt.channel,
            attempt_id=attempt.id,
            data={"late": True, "duplicate": attempt.sent_at is not None, **_sent_data(result)},
            occurred_at=accepted_at,
        )
    poller = POLLERS.get(attempt.channel)
    if poller is not None:
        await poller.track(ctx, tx, attempt, result.provider_ref)
    await decide_now(ctx, tx)


async def _already_recorded(
    tx: DispatchTransaction, attempt_id: str, accepted_at: datetime
) -> bool:
    """This very acceptance is in the chain already (a journal entry replayed again)."""
    return any(
        e.type == EventType.ATTEMPT_SENT
        and e.attempt_id == attempt_id
        and e.occurred_at == accepted_at
        for e in await tx.events()
    )


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
        EventType.ATTEMPT_CHANNEL_UNAVAILABLE,
        source=attempt.channel,
        reason=f"channel_unavailable: {result.detail}"[:500],
        data={"retry_at": rfc3339(attempt.next_action_at), **_provider_data(result)},
    )
