"""The postal channel's mail pieces: what the mail-piece PDF prints, the clerk's hand-over to
the carrier, and scanned return cards (回执).

- :func:`mail_piece` / :func:`mail_pieces_on`: what the mail-piece PDF prints.
- :func:`hand_over`: the clerk's word that the day's printed pieces went to the carrier.
- :func:`record_return_card`: a scanned signed return card, stored hashed, as evidence.

The carrier's side of a piece — tracking events and polls — is ``receipts.py``.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from delivery.context import Context
from delivery.domain import DocumentRef
from delivery.infra.document_store import StoredFile
from delivery.services import confirmation_requests
from delivery.services.transactions import dispatch_transaction
from delivery.storage import mail_pieces
from delivery.storage.attempts import attempt_channel
from delivery.vocabulary import Channel, EventType
from tracking.notice_codes import display
from tracking.verification import verification_path

log = logging.getLogger(__name__)


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
    # The dispatch's first letter: the address confirmation form's link, printed as a QR code.
    confirmation_url: str | None = None


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


async def _with_confirmation(ctx: Context, row: Any, documents: list[DocumentRef]) -> MailPiece:
    """The piece, with the standing confirmation link on the dispatch's first letter (none
    when it has expired: a letter never prints a link that no longer opens)."""
    piece = _piece(ctx, row, documents)
    if not row.first_letter:
        return piece
    request = confirmation_requests.standing_request(
        await mail_pieces.dispatch_events(ctx.engine, row.dispatch_id)
    )
    if request is None or confirmation_requests.expired(request, ctx.clock.now()):
        return piece
    url = confirmation_requests.link_url(ctx, row.dispatch_id, request)
    return dataclasses.replace(piece, confirmation_url=url)


async def mail_piece(
    ctx: Context, dispatch_id: str, attempt_id: str, courts: tuple[str, ...]
) -> MailPiece | None:
    found = await mail_pieces.piece(ctx.engine, dispatch_id, attempt_id, courts)
    return await _with_confirmation(ctx, *found[0]) if found else None


async def mail_pieces_on(ctx: Context, day: date, courts: tuple[str, ...]) -> list[MailPiece]:
    """The pieces created on ``day`` in the court's time zone that are still to go, oldest
    first: a piece the carrier already took, or whose attempt ended before it was posted (the
    dispatch cancelled, served on another channel), is left out, so the print run never sends a
    letter twice or one that should not go."""
    start = datetime.combine(day, time(0), tzinfo=ctx.settings.zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ctx.settings.zone)
    found = await mail_pieces.pieces_to_go(ctx.engine, start, end, courts)
    return [await _with_confirmation(ctx, row, documents) for row, documents in found]


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
