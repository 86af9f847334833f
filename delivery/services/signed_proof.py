"""CPL-87: the proof of service (送达回证) came back signed or sealed by the recipient.

Service is dated by "the date the recipient wrote on it" (domain.md), not by the day a clerk
got round to recording it. So ``record_outcome`` with ``proof_signed`` carries

- ``written_date`` — that date, ``YYYY-MM-DD`` on the court's calendar: required, not after
  today in the court's zone, not before the day the dispatch was created; and
- the scan of the signed paper — a PDF, JPEG or PNG (recognised by its first bytes and opened
  by :func:`delivery.infra.scans.scan_problem`), at most ``SONGDA_MAX_UPLOAD_BYTES``,
  content-addressed in the document store by SHA-256 (:func:`store_scan`).

:func:`record` writes, in the action's transaction, a ``media_files`` row (purpose
``signed_proof``, on the attempt) and the ``proof_signed`` event, whose ``occurred_at`` is the
start of the written day in the court's zone — the completion rule (``escalation.rules``) dates
service by ``occurred_at``, so ``service_date`` is the written date and the periods run from it —
and whose data name the written date and the scan's SHA-256; ``recorded_at`` keeps when the
clerk recorded it. Refusals (:class:`ProofRefused`) name the field; nothing is recorded.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

from delivery.context import Context
from delivery.domain import Attempt
from delivery.infra.document_store import EvidenceFile, UploadRejected
from delivery.infra.scans import SCAN_TYPES, WANTED, scan_problem
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import EventType

OUTCOME = EventType.PROOF_SIGNED
PURPOSE = "signed_proof"
SOURCE = "clerk"
SCAN_FIELD = "scan"
DATE_FIELD = "written_date"
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class ProofRefused(Exception):
    """The written date or the scan is wrong; ``field`` names which."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = f"{field}: {reason}"


async def store_scan(ctx: Context, chunks: AsyncIterator[bytes]) -> EvidenceFile:
    """Stream the scan to the content-addressed store while hashing it, opening it before it is
    kept; refuse an empty file, one over the bound, one of another type or one that does not
    open."""
    try:
        stored, media_type = await ctx.documents.store_media(
            chunks, ctx.settings.max_upload_bytes, SCAN_TYPES, f"not {WANTED}", scan_problem
        )
    except UploadRejected as exc:
        raise ProofRefused(SCAN_FIELD, exc.reason) from None
    return EvidenceFile(stored, media_type)


def written_date(value: object, *, created_at: datetime, now: datetime, zone: tzinfo) -> date:
    """The date written on the proof, checked against the court's calendar: not in the future,
    not before the dispatch existed (nobody signs a proof of a service not yet begun)."""
    if value is None or value == "":
        raise ProofRefused(DATE_FIELD, "required: the date the recipient wrote on the proof")
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise ProofRefused(DATE_FIELD, "must be a date, YYYY-MM-DD")
    try:
        written = date.fromisoformat(value)
    except ValueError:
        raise ProofRefused(DATE_FIELD, f"{value} is not a date of the calendar") from None
    today = now.astimezone(zone).date()
    if written > today:
        raise ProofRefused(DATE_FIELD, f"{written} is in the future (today is {today})")
    created = created_at.astimezone(zone).date()
    if written < created:
        raise ProofRefused(DATE_FIELD, f"{written} is before the dispatch was created ({created})")
    return written


async def record(
    ctx: Context,
    tx: DispatchTransaction,
    attempt: Attempt,
    details: dict[str, Any],
    scan: EvidenceFile | None,
    *,
    note: str,
    actor: str,
) -> None:
    """Record the signed proof on ``attempt``: the scan's row and the ``proof_signed`` event."""
    zone = ctx.settings.zone
    written = written_date(
        details.get(DATE_FIELD), created_at=tx.dispatch.created_at, now=tx.now, zone=zone
    )
    if scan is None:
        raise ProofRefused(
            SCAN_FIELD,
            f"required: the scan of the signed proof ({WANTED}), sent as multipart/form-data",
        )
    media_id = await tx.add_media(attempt.id, PURPOSE, scan.stored, scan.media_type, actor)
    tx.record(
        OUTCOME,
        source=SOURCE,
        actor=actor,
        attempt_id=attempt.id,
        occurred_at=datetime.combine(written, time(), tzinfo=zone).astimezone(UTC),
        data={
            "note": note,
            DATE_FIELD: written.isoformat(),
            SCAN_FIELD: {
                "media_id": media_id,
                "sha256": scan.stored.sha256,
                "media_type": scan.media_type,
                "size": scan.stored.size,
            },
        },
    )
