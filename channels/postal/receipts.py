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

import sqlalchemy as sa

from channels.postal.outcomes import interpret
from channels.postal.pieces import update_piece
from delivery.channel_api import TrackingChannel, TrackingError, TrackingEvent
from delivery.context import Context
from delivery.domain import Attempt, AttemptState
from delivery.services.progress import decide_now
from delivery.storage.schema import (
    attempts,
    carrier_events,
    postal_pieces,
)
from delivery.storage.unit_of_work import DispatchTransaction, dispatch_transaction

log = logging.getLogger(__name__)
POLL_INTERVAL = timedelta(hours=6)
POLL_FOR = timedelta(days=120)  # a return card can come back long after the step's window
POLL_BATCH = 100
RECEIPTS = frozenset({"postal_delivered", "postal_refused", "postal_returned"})
POLLED_STATES = (AttemptState.SENT.value, AttemptState.EXPIRED.value)


class TrackingOutcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    UNKNOWN = "unknown_tracking_number"


def carrier_name(ctx: Context) -> str:
    channel = ctx.channels.get("postal")
    if isinstance(channel, TrackingChannel):
        return channel.carrier_name
    return ctx.settings.carrier.name


async def record_piece(
    ctx: Context, tx: DispatchTransaction, attempt: Attempt, tracking_number: str | None
) -> None:
    """The piece of an accepted postal send (once per attempt), in the caller's transaction."""
    if attempt.channel != "postal" or not tracking_number:
        return
    known = await tx.conn.scalar(
        sa.select(postal_pieces.c.attempt_id).where(postal_pieces.c.attempt_id == attempt.id)
    )
    if known is not None:
        return
    await tx.conn.execute(
        postal_pieces.insert().values(
            attempt_id=attempt.id,
            dispatch_id=tx.dispatch.id,
            court=tx.dispatch.court,
            carrier=carrier_name(ctx),
            tracking_number=tracking_number,
            created_at=tx.now,
            next_poll_at=tx.now + POLL_INTERVAL,
        )
    )


async def record_tracking(ctx: Context, carrier: str, event: TrackingEvent) -> TrackingOutcome:
    """Apply one carrier event; nothing is stored for an unknown piece or a repeated event."""
    async with ctx.engine.connect() as conn:
        piece = (
            await conn.execute(
                sa.select(postal_pieces.c.attempt_id, postal_pieces.c.dispatch_id).where(
                    postal_pieces.c.carrier == carrier,
                    postal_pieces.c.tracking_number == event.tracking_number,
                )
            )
        ).first()
    if piece is None:
        return TrackingOutcome.UNKNOWN
    async with dispatch_transaction(ctx.engine, ctx.clock, piece.dispatch_id) as tx:
        # Under the dispatch's lock: every event of this piece is serialised here.
        seen = await tx.conn.scalar(
            sa.select(carrier_events.c.event_id).where(
                carrier_events.c.carrier == carrier, carrier_events.c.event_id == event.event_id
            )
        )
        if seen is not None:
            outcome = TrackingOutcome.DUPLICATE
        else:
            await tx.conn.execute(
                carrier_events.insert().values(
                    carrier=carrier,
                    event_id=event.event_id,
                    attempt_id=piece.attempt_id,
                    received_at=tx.now,
                )
            )
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
                await update_piece(tx, attempt.id, handed_over_at=event.occurred_at)
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
    await update_piece(tx, attempt.id, next_poll_at=None)
    await decide_now(ctx, tx)


async def claim_due_polls(ctx: Context) -> list[tuple[str, str]]:
    """Pieces whose tracking poll is due, each claimed by moving its next poll on (so a second
    sweep does not take it, and a lost job is retried at the next interval): their attempt ids
    and tracking numbers. The sweep enqueues one :func:`poll_piece` job per piece, so a slow
    carrier never holds up the sweep."""
    channel = ctx.channels.get("postal")
    if not isinstance(channel, TrackingChannel):
        return []
    now = ctx.clock.now()
    p = postal_pieces
    async with ctx.engine.connect() as conn:
        due = (
            await conn.execute(
                sa.select(p.c.attempt_id, p.c.tracking_number, p.c.created_at)
                .join(attempts, attempts.c.id == p.c.attempt_id)
                .where(
                    p.c.next_poll_at <= now,
                    p.c.carrier == channel.carrier_name,
                    attempts.c.state.in_(POLLED_STATES),
                )
                .order_by(p.c.next_poll_at)
                .limit(POLL_BATCH)
            )
        ).all()
    claimed: list[tuple[str, str]] = []
    for attempt_id, tracking_number, created_at in due:
        give_up = created_at + POLL_FOR <= now
        async with ctx.engine.begin() as conn:
            taken = await conn.execute(
                p.update()
                .where(p.c.attempt_id == attempt_id, p.c.next_poll_at <= now)
                .values(next_poll_at=None if give_up else now + POLL_INTERVAL)
            )
        if taken.rowcount == 1 and not give_up:
            claimed.append((attempt_id, tracking_number))
    return claimed


async def poll_piece(ctx: Context, attempt_id: str, tracking_number: str) -> None:
    """Fetch one piece's tracking and feed it through :func:`record_tracking` (idempotent by
    the carrier's event ids: a job run twice records nothing twice)."""
    channel = ctx.channels.get("postal")
    if not isinstance(channel, TrackingChannel):
        return
    try:
        found = await channel.fetch_tracking(tracking_number)
    except TrackingError as exc:
        log.warning("tracking poll failed", extra={"attempt_id": attempt_id, "error": str(exc)})
        return
    for event in sorted(found, key=lambda e: (e.occurred_at, e.event_id)):
        await record_tracking(ctx, channel.carrier_name, event)
