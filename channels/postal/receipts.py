"""The postal channel's records: mail pieces, carrier tracking, return cards.

- :func:`record_piece`: after the carrier accepted a shipment, its piece (tracking number, when
  to poll) is written in the transaction that records ``attempt_sent``.
- :func:`record_tracking`: one carrier event, from the signed webhook or from polling — the same
  path for both. The carrier's event id is stored in ``carrier_events`` in the transaction that
  records the receipt, so a replay or the same event seen by polling changes nothing; an attempt
  only moves forward from ``sent``. Deciding happens in the same transaction (CPL-91, PM-11).
- :func:`poll_due_pieces`: the sweep's fallback for webhooks that never came.
- :func:`mail_piece` / :func:`mail_pieces_on`: what the mail-piece PDF prints.
- :func:`record_return_card`: a scanned signed return card (回执), stored hashed, as evidence.
- :func:`hand_over`: the clerk's word that the day's printed pieces went to the carrier.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from channels.postal.outcomes import interpret
from delivery.channel_api import TrackingChannel, TrackingError, TrackingEvent
from delivery.context import Context
from delivery.domain import Attempt, AttemptState, DocumentRef
from delivery.infra.document_store import StoredFile
from delivery.services.progress import decide_now
from delivery.services.transactions import dispatch_transaction
from delivery.storage import mail_pieces
from delivery.storage.attempts import attempt_channel
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import Channel, EventType
from tracking.notice_codes import display
from tracking.verification import verification_path

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


# --- What the mail-piece PDF prints ---


@dataclass(frozen=True)
class MailPiece:
    attempt_id: str
    dispatch_id: str
    court: str
    case_number: str
    recipient_name: str
    address: str
    postcode: str | None
    carrier: str
    tracking_number: str
    created_at: datetime
    documents: list[tuple[str, str]]  # (title, sha256)
    verification_url: str
    # The letter's notice code (``XXXX-XXXX``) and where the recipient checks it.
    notice_code: str | None = None
    check_url: str | None = None


def _piece(ctx: Context, row: Any, documents: list[DocumentRef]) -> MailPiece:
    return MailPiece(
        attempt_id=row.attempt_id,
        dispatch_id=row.dispatch_id,
        court=row.court,
        case_number=row.case_number,
        recipient_name=row.recipient_name,
        address=row.address,
        postcode=row.postcode,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        created_at=row.created_at,
        documents=[(d.title, d.sha256) for d in documents],
        verification_url=ctx.settings.public_base_url
        + verification_path(ctx.settings.secret_key, row.dispatch_id),
        notice_code=display(row.notice_code) if row.notice_code else None,
        check_url=f"{ctx.settings.public_base_url}/check",
    )


async def mail_piece(
    ctx: Context, dispatch_id: str, attempt_id: str, courts: tuple[str, ...]
) -> MailPiece | None:
    found = await mail_pieces.piece(ctx.engine, dispatch_id, attempt_id, courts)
    return _piece(ctx, *found[0]) if found else None


async def mail_pieces_on(ctx: Context, day: date, courts: tuple[str, ...]) -> list[MailPiece]:
    """The pieces created on ``day`` in the court's time zone that are still to go, oldest
    first: a piece the carrier already took, or whose attempt ended before it was posted (the
    dispatch cancelled, served on another channel), is left out, so the print run never sends a
    letter twice or one that should not go."""
    start = datetime.combine(day, time(0), tzinfo=ctx.settings.zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ctx.settings.zone)
    found = await mail_pieces.pieces_to_go(ctx.engine, start, end, courts)
    return [_piece(ctx, row, documents) for row, documents in found]


HANDED_OVER = EventType.MAIL_HANDED_OVER


async def hand_over(
    ctx: Context, attempt_ids: list[str], courts: tuple[str, ...], *, actor: str
) -> list[str]:
    """Mark the pieces of ``attempt_ids`` (in ``courts``, still to go) handed to the carrier:
    ``handed_over_at`` is set and a ``mail_handed_over`` event recorded on the attempt, one
    transaction per dispatch. Returns the attempt ids marked; a piece already handed over (a
    second click) or no longer to go is left as it is.

    This is the court's own record of posting, not the carrier's: it is not ``postal_accepted``
    and starts no deemed period (CPL-283 counts from the carrier's acceptance)."""
    if not attempt_ids:
        return []
    rows = await mail_pieces.pieces_to_hand_over(ctx.engine, attempt_ids, courts)
    by_dispatch: dict[str, list[str]] = {}
    for row in rows:
        by_dispatch.setdefault(row.dispatch_id, []).append(row.attempt_id)
    marked: list[str] = []
    for dispatch_id, pieces in by_dispatch.items():
        async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
            # Under the dispatch's lock, checked again: a concurrent click or a carrier event
            # may have come first.
            for piece in await mail_pieces.still_to_go(tx.conn, pieces):
                await mail_pieces.update_piece(tx.conn, piece.attempt_id, handed_over_at=tx.now)
                tx.record(
                    HANDED_OVER,
                    source="clerk",
                    actor=actor,
                    attempt_id=piece.attempt_id,
                    data={"carrier": piece.carrier, "tracking_number": piece.tracking_number},
                )
                marked.append(piece.attempt_id)
    log.info("mail handed over", extra={"pieces": len(marked)})
    return marked


# --- Scanned return cards ---


async def record_return_card(
    ctx: Context,
    dispatch_id: str,
    attempt_id: str,
    stored: StoredFile,
    media_type: str,
    *,
    actor: str,
) -> dict[str, Any]:
    """Record an uploaded scan of the signed return card; KeyError for a non-postal attempt."""
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        attempt = await tx.attempt(attempt_id)
        if attempt is None or attempt.channel != Channel.POSTAL:
            raise KeyError(attempt_id)
        media_id = await tx.add_media(attempt_id, "return_card", stored, media_type, actor)
        media = {
            "id": media_id,
            "sha256": stored.sha256,
            "size": stored.size,
            "media_type": media_type,
        }
        tx.record(
            EventType.RETURN_CARD_UPLOADED,
            source="api",
            actor=actor,
            attempt_id=attempt_id,
            data={
                "media_id": media["id"],
                "sha256": stored.sha256,
                "media_type": media_type,
                "size": stored.size,
            },
        )
    await ctx.queue.after_commit(tx.followups)
    return media


async def is_postal_attempt(ctx: Context, dispatch_id: str, attempt_id: str) -> bool:
    return await attempt_channel(ctx.engine, dispatch_id, attempt_id) == Channel.POSTAL
