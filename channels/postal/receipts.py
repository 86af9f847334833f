"""The postal channel's receipts: carrier tracking, by webhook or by polling.

- :func:`record_piece`: after the carrier accepted a shipment, its piece (tracking number, when
  to poll) is written in the transaction that records ``attempt_sent``.
- :func:`record_tracking`: one carrier event, from the signed webhook or from polling — the same
  path for both. The carrier's event id is stored in ``carrier_events`` in the transaction that
  records the receipt, so a replay or the same event seen by polling changes nothing; an attempt
  only moves forward from ``sent``. Deciding happens in the same transaction (CPL-91, PM-11).
- :func:`poll_due_pieces`: the sweep's fallback for webhooks that never came.

The pieces themselves — what the PDF prints, the hand-over, return cards — are ``pieces.py``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from enum import StrEnum

from channels.postal.outcomes import interpret
from delivery.channel_api import TrackingChannel, TrackingError, TrackingEvent
from delivery.context import Context
from delivery.domain import Attempt, AttemptState
from delivery.services import confirmation_requests
from delivery.services.progress import decide_now
from delivery.services.transactions import dispatch_transaction
from delivery.storage import mail_pieces
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import Channel, EventType

log = logging.getLogger(__name__)
POLL_INTERVAL = timedelta(hours=6)
POLL_FOR = timedelta(days=120)  # a return card can come back long after the step's window
POLL_BATCH = 100
RECEIPTS = frozenset(
    {EventType.POSTAL_DELIVERED, EventType.POSTAL_REFUSED, EventType.POSTAL_RETURNED}
)
POLLED_STATES = (AttemptState.SENT.value, AttemptState.EXPIRED.value)


class TrackingOutcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    UNKNOWN = "unknown_tracking_number"


def carrier_name(ctx: Context) -> str:
    channel = ctx.channels.get(Channel.POSTAL)
    if isinstance(channel, TrackingChannel):
        return channel.carrier_name
    return ctx.settings.carrier.name


async def record_piece(
    ctx: Context, tx: DispatchTransaction, attempt: Attempt, tracking_number: str | None
) -> None:
    """The piece of an accepted postal send (once per attempt), in the caller's transaction."""
    if attempt.channel != Channel.POSTAL or not tracking_number:
        return
    if await mail_pieces.has_piece(tx.conn, attempt.id):
        return
    if not await mail_pieces.dispatch_has_piece(tx.conn, tx.dispatch.id):
        # The first letter prints the address confirmation link as a QR code (CPL-INT-136).
        await confirmation_requests.letter_request(ctx, tx)
    await mail_pieces.insert_piece(
        tx.conn,
        attempt_id=attempt.id,
        dispatch_id=tx.dispatch.id,
        court=tx.dispatch.court,
        carrier=carrier_name(ctx),
        tracking_number=tracking_number,
        created_at=tx.now,
        next_poll_at=tx.now + POLL_INTERVAL,
    )


async def record_tracking(ctx: Context, carrier: str, event: TrackingEvent) -> TrackingOutcome:
    """Apply one carrier event; nothing is stored for an unknown piece or a repeated event."""
    piece = await mail_pieces.find_piece(ctx.engine, carrier, event.tracking_number)
    if piece is None:
        return TrackingOutcome.UNKNOWN
    async with dispatch_transaction(ctx.engine, ctx.clock, piece.dispatch_id) as tx:
        # Under the dispatch's lock: every event of this piece is serialised here.
        new = await mail_pieces.note_carrier_event(
            tx.conn, carrier, event.event_id, piece.attempt_id, tx.now
        )
        if not new:
            outcome = TrackingOutcome.DUPLICATE
        else:
            attempt = await tx.attempt(piece.attempt_id)
            assert attempt is not None
            await _apply(ctx, tx, attempt, carrier, event)
            outcome = TrackingOutcome.RECORDED
    await ctx.queue.after_commit(tx.followups)
    log.info(
        "carrier event",
        extra={
            "dispatch_id": piece.dispatch_id,
            "attempt_id": piece.attempt_id,
            "status": event.status,
            "outcome": outcome.value,
        },
    )
    return outcome


async def _apply(
    ctx: Context, tx: DispatchTransaction, attempt: Attempt, carrier: str, event: TrackingEvent
) -> None:
    receipt = interpret(carrier, event, ctx.settings.secret_key)
    if attempt.state == AttemptState.SENT:
        if receipt.state is None:
            tx.record(
                receipt.event_type,
                source=carrier,
                attempt_id=attempt.id,
                data=receipt.data,
                occurred_at=event.occurred_at,
            )
            if event.status == "accepted":
                await mail_pieces.update_piece(
                    tx.conn, attempt.id, handed_over_at=event.occurred_at
                )
                # Posting can start a deemed period (CPL-283 abroad): decide with it now.
                await decide_now(ctx, tx)
            return
        attempt.next_action_at = None
        tx.change_attempt(
            attempt,
            receipt.state,
            receipt.event_type,
            source=carrier,
            reason=receipt.reason,
            data=receipt.data,
            occurred_at=event.occurred_at,
        )
    elif attempt.state == AttemptState.EXPIRED and receipt.event_type in RECEIPTS:
        # The step's window passed before the receipt came back: it is still evidence, and a
        # receipt dated earlier than a later service is the earliest effective one (OLR-31).
        tx.record(
            receipt.event_type,
            source=carrier,
            attempt_id=attempt.id,
            data={**receipt.data, "late": True, "attempt_state": attempt.state.value},
            occurred_at=event.occurred_at,
        )
    else:
        return  # out of order (after a final outcome) or the attempt was closed: no change
    await mail_pieces.update_piece(tx.conn, attempt.id, next_poll_at=None)
    await decide_now(ctx, tx)


async def claim_due_polls(ctx: Context) -> list[tuple[str, str]]:
    """Pieces whose tracking poll is due, each claimed by moving its next poll on (so a second
    sweep does not take it, and a lost job is retried at the next interval): their attempt ids
    and tracking numbers. The sweep enqueues one :func:`poll_piece` job per piece, so a slow
    carrier never holds up the sweep."""
    channel = ctx.channels.get(Channel.POSTAL)
    if not isinstance(channel, TrackingChannel):
        return []
    now = ctx.clock.now()
    due = await mail_pieces.due_polls(
        ctx.engine, channel.carrier_name, now, POLLED_STATES, POLL_BATCH
    )
    claimed: list[tuple[str, str]] = []
    for attempt_id, tracking_number, created_at in due:
        give_up = created_at + POLL_FOR <= now
        next_poll_at = None if give_up else now + POLL_INTERVAL
        taken = await mail_pieces.claim_poll(ctx.engine, attempt_id, now, next_poll_at)
        if taken and not give_up:
            claimed.append((attempt_id, tracking_number))
    return claimed


async def poll_piece(ctx: Context, attempt_id: str, tracking_number: str) -> None:
    """Fetch one piece's tracking and feed it through :func:`record_tracking` (idempotent by
    the carrier's event ids: a job run twice records nothing twice)."""
    channel = ctx.channels.get(Channel.POSTAL)
    if not isinstance(channel, TrackingChannel):
        return
    try:
        found = await channel.fetch_tracking(tracking_number)
    except TrackingError as exc:
        log.warning("tracking poll failed", extra={"attempt_id": attempt_id, "error": str(exc)})
        return
    for event in sorted(found, key=lambda e: (e.occurred_at, e.event_id)):
        await record_tracking(ctx, channel.carrier_name, event)
