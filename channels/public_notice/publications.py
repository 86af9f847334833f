"""Public notice (CPL-95 / CPL-283): the approval and the publications.

- A supervisor approves the draft (:func:`approve_notice`) with the reason CPL-95 requires and
  the methods tried, listed from the dispatch's own attempts. The approval names the SHA-256 of
  the text the supervisor reviewed (``text_sha256``): an edit since then makes it a conflict, so
  what is published is what was read. Approval publishes the notice on Songda's own board (the
  court website) at once: a ``notice_published`` event, the attempt ``sent``.
- Further publications (notice board, residence, newspaper) are recorded with
  :func:`record_publication`; the last one counts (CPL-INT-138), so the deemed date moves. A
  posting at the residence is photographed or filmed (CPL-INT-138): it names the photo or video
  stored by :func:`record_media` (``POST /api/v1/dispatches/{id}/media``, purpose
  ``notice_posting``).

The deemed date itself is escalation's (``escalation.service_date.notice_deemed_at``, the rule
``decide`` applies); ``decide_now`` sets the dispatch's timer to it and serves the dispatch when
it arrives. The ``notices`` row keeps a copy (``deemed_served_at``) for the board.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from channels.public_notice.notices import (
    DRAFT,
    PUBLISHED,
    SOURCE,
    NoticeRefused,
    current_notice,
    methods_tried,
    text_field,
)
from delivery.clock import rfc3339
from delivery.context import Context
from delivery.domain import OPEN_ATTEMPT_STATES, Attempt, AttemptState, DispatchState
from delivery.ids import looks_like_id, new_id
from delivery.infra.document_store import EvidenceFile
from delivery.representations import notice_text_sha256
from delivery.services.transactions import dispatch_transaction
from delivery.storage import notice_publications, queries
from delivery.storage import notices as stored_notices
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import EventType, WebhookEventType
from escalation.calendar import CourtDays
from escalation.policy import NOTICE_CHANNEL
from escalation.service_date import notice_deemed_at
from templates.notices import has_blanks

PLACES = ("court_notice_board", "residence", "newspaper", "court_website")
FIRST_PLACE = "court_website"  # approval publishes on Songda's own board at once
REASONS = ("whereabouts_unknown", "other_methods_failed")
MAX_DETAIL = 500
MEDIA_PURPOSE = "notice_posting"
# Postings that must be photographed or filmed (CPL-INT-138): record_publication needs media_id.
FILMED_PLACES = frozenset({"residence"})
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


async def approve_notice(
    ctx: Context, tx: DispatchTransaction, details: dict[str, Any], note: str, actor: str
) -> None:
    """``approve_notice`` {reason, text_sha256}: a supervisor approves the text they reviewed
    (``text_sha256``; a conflict when the draft changed since); the notice is published at once
    on the court's website board (Songda's ``/notices``)."""
    if not actor.startswith("staff:"):
        raise NoticeRefused("only a supervisor's account approves a public notice")
    reason = details.get("reason")
    if reason not in REASONS:
        raise NoticeRefused(f"reason must be one of {', '.join(REASONS)}", conflict=False)
    reviewed = details.get("text_sha256")
    if not isinstance(reviewed, str) or not SHA256_HEX.fullmatch(reviewed.lower()):
        raise NoticeRefused(
            "text_sha256 must be the SHA-256 (hex) of the notice text you reviewed",
            conflict=False,
        )
    attempt, notice = await current_notice(tx)
    if notice["state"] != DRAFT:
        raise NoticeRefused("the notice is approved already")
    approved_sha256 = notice_text_sha256(notice["title"], notice["body"])
    if reviewed.lower() != approved_sha256:
        raise NoticeRefused(
            "the notice text changed since you reviewed it (text_sha256 does not match the "
            "current draft): read it again before approving"
        )
    if has_blanks(notice["title"]) or has_blanks(notice["body"]):
        raise NoticeRefused("the notice text still has blanks to fill in (edit_notice)")
    attempts = await tx.attempts()
    still_out = sorted(
        {
            a.channel
            for a in attempts
            if a.channel != NOTICE_CHANNEL and a.state in OPEN_ATTEMPT_STATES
        }
    )
    if still_out:
        # CPL-95: the last resort — not while another method may still serve (e.g. e-service
        # re-opened by consent recorded during the notice step).
        raise NoticeRefused(f"another method is still under way ({', '.join(still_out)})")
    tried = methods_tried(attempts)
    if reason == "other_methods_failed" and not tried:
        raise NoticeRefused("no other method was tried: the reason can only be whereabouts_unknown")
    grounds = {"reason": reason, "methods_tried": tried}
    tx.record(
        EventType.NOTICE_APPROVED,
        source=SOURCE,
        actor=actor,
        attempt_id=attempt.id,
        data={
            "note": note,
            "notice_id": notice["id"],
            "sha256": approved_sha256,
            **grounds,
        },
    )
    await stored_notices.update_notice(
        tx.conn,
        notice["id"],
        reason=grounds,
        approved_by=actor,
        approved_at=tx.now,
        updated_at=tx.now,
    )
    attempt.sent_at = tx.now
    attempt.provider_ref = notice["id"]
    attempt.next_action_at = None
    await _publish(
        ctx, tx, attempt, notice, place=FIRST_PLACE, published_at=tx.now, actor=actor, note=note
    )


async def record_publication(
    ctx: Context, tx: DispatchTransaction, details: dict[str, Any], note: str, actor: str
) -> None:
    """``record_publication`` {place, published_at, detail?, media_id?}: a further publication;
    the last one counts (CPL-INT-138). A posting at the residence is photographed or filmed
    (CPL-INT-138): ``media_id`` is then required, a file uploaded for this dispatch's notice."""
    attempt, notice = await current_notice(tx)
    if notice["state"] != PUBLISHED:
        raise NoticeRefused("the notice is not approved yet")
    place = details.get("place")
    if place not in PLACES:
        raise NoticeRefused(f"place must be one of {', '.join(PLACES)}", conflict=False)
    published_at = _instant(details.get("published_at"))
    if published_at > tx.now:
        raise NoticeRefused("published_at must not be in the future", conflict=False)
    if notice["approved_at"] is not None and published_at < notice["approved_at"]:
        raise NoticeRefused("published_at must not be before the approval", conflict=False)
    detail = text_field(details, "detail", MAX_DETAIL, required=False)
    media = await _media(tx, details.get("media_id"))
    if media is None and place in FILMED_PLACES:
        raise NoticeRefused(
            f"a posting at the {place} must be photographed or filmed (CPL-INT-138): media_id "
            "names the photo or video uploaded with POST /api/v1/dispatches/{id}/media",
            conflict=False,
        )
    await _publish(
        ctx,
        tx,
        attempt,
        notice,
        place=str(place),
        published_at=published_at,
        actor=actor,
        note=note,
        detail=detail,
        media=media,
    )


async def _media(tx: DispatchTransaction, media_id: object) -> tuple[str, str] | None:
    """(id, sha256) of a file uploaded for this dispatch's notice (e.g. the photo of a posting
    at the residence), or None when none is named."""
    if media_id is None:
        return None
    found = None
    if isinstance(media_id, str) and looks_like_id(media_id):
        found = await notice_publications.dispatch_media(
            tx.conn, media_id, tx.dispatch.id, MEDIA_PURPOSE
        )
    if found is None:
        raise NoticeRefused(
            "media_id must name a photo or video uploaded for this dispatch's notice "
            "(POST /api/v1/dispatches/{id}/media)",
            conflict=False,
        )
    return found


# --- Evidence of a posting: the photo or video (CPL-INT-138) ---


def posting_refusal(dispatch_state: str, notice_state: str | None) -> str | None:
    """Why a posting's photo or video cannot be recorded now, or ``None`` when it can: only
    while a public notice runs, and only once it is published (a posting follows the approval)."""
    if dispatch_state != DispatchState.NOTICE_PENDING or notice_state is None:
        return f"the dispatch is {dispatch_state}: no public notice is running"
    if notice_state != PUBLISHED:
        return "the notice is not approved yet: a posting follows the approval"
    return None


async def media_refusal(ctx: Context, dispatch_id: str, courts: tuple[str, ...]) -> str | None:
    """:func:`posting_refusal` for a dispatch of ``courts``, read before an upload is stored so
    that a refused one stores nothing; raises ``KeyError`` for a dispatch not in ``courts``."""
    detail = await queries.read_dispatch_detail(ctx.engine, dispatch_id, courts)
    if detail is None:
        raise KeyError(dispatch_id)
    return posting_refusal(detail.dispatch.state, detail.notice.state if detail.notice else None)


async def record_media(
    tx: DispatchTransaction, evidence: EvidenceFile, actor: str
) -> dict[str, Any]:
    """A stored photo or video of a posting: its ``media_files`` row (purpose
    ``notice_posting``, on the notice attempt) and a ``media_uploaded`` event, in the
    dispatch's transaction. Only for a published notice (:func:`posting_refusal`)."""
    if refusal := posting_refusal(tx.dispatch.state, PUBLISHED):
        raise NoticeRefused(refusal)
    attempt, notice = await current_notice(tx)
    if refusal := posting_refusal(tx.dispatch.state, notice["state"]):
        raise NoticeRefused(refusal)
    media_id = await tx.add_media(
        attempt.id, MEDIA_PURPOSE, evidence.stored, evidence.media_type, actor
    )
    media = {
        "id": media_id,
        "sha256": evidence.stored.sha256,
        "media_type": evidence.media_type,
        "size": evidence.stored.size,
    }
    tx.record(
        EventType.MEDIA_UPLOADED,
        source=SOURCE,
        actor=actor,
        attempt_id=attempt.id,
        data={
            "media_id": media["id"],
            "sha256": evidence.stored.sha256,
            "media_type": evidence.media_type,
            "purpose": MEDIA_PURPOSE,
        },
    )
    return media


async def upload_media(
    ctx: Context, dispatch_id: str, evidence: EvidenceFile, *, actor: str
) -> dict[str, Any]:
    """``POST /api/v1/dispatches/{id}/media``: record a stored photo or video of a posting in
    one transaction with its event; {id, sha256, media_type, size}."""
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        media = await record_media(tx, evidence, actor)
    await ctx.queue.after_commit(tx.followups)
    return media


def _instant(value: object) -> datetime:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise NoticeRefused("published_at must be an RFC 3339 time with an offset", conflict=False)
    return parsed.astimezone(UTC)


async def _publish(
    ctx: Context,
    tx: DispatchTransaction,
    attempt: Attempt,
    notice: dict[str, Any],
    *,
    place: str,
    published_at: datetime,
    actor: str,
    note: str,
    detail: str | None = None,
    media: tuple[str, str] | None = None,
) -> None:
    """One publication: its row, its ``notice_published`` event (dated by the publication), the
    notice's dates, and the case system told. The first one also sends the attempt."""
    publication_id = new_id()
    data: dict[str, Any] = {
        "note": note,
        "notice_id": notice["id"],
        "publication_id": publication_id,
        "place": place,
        "published_at": rfc3339(published_at),
        **({"detail": detail} if detail else {}),
        **({"media_id": media[0], "media_sha256": media[1]} if media else {}),
    }
    if attempt.state == AttemptState.PENDING:
        tx.change_attempt(
            attempt,
            AttemptState.SENT,
            EventType.NOTICE_PUBLISHED,
            source=SOURCE,
            actor=actor,
            occurred_at=published_at,
            data=data,
        )
    else:
        tx.record(
            EventType.NOTICE_PUBLISHED,
            source=SOURCE,
            actor=actor,
            attempt_id=attempt.id,
            occurred_at=published_at,
            data=data,
        )
    await notice_publications.insert_publication(
        tx.conn,
        id=publication_id,
        notice_id=notice["id"],
        place=place,
        detail=detail,
        published_at=published_at,
        media_id=media[0] if media else None,
        recorded_by=actor,
        created_at=tx.now,
    )
    first = notice["first_published_at"]
    last = notice["last_published_at"]
    first = published_at if first is None else min(first, published_at)
    last = published_at if last is None else max(last, published_at)
    deemed = notice_deemed_at(
        tx.dispatch,
        attempt,
        await tx.events(),
        ctx.policies.get(tx.dispatch.policy, tx.dispatch.court),
        CourtDays(ctx.calendar, ctx.settings.zone),
    )
    await stored_notices.update_notice(
        tx.conn,
        notice["id"],
        state=PUBLISHED,
        first_published_at=first,
        last_published_at=last,
        deemed_served_at=deemed,
        updated_at=tx.now,
    )
    tx.notify(
        WebhookEventType.DISPATCH_NOTICE_PUBLISHED,
        {
            "notice_id": notice["id"],
            "place": place,
            "published_at": rfc3339(published_at),
            "last_published_at": rfc3339(last),
            "deemed_served_at": rfc3339(deemed) if deemed else None,
        },
    )
