"""Proof of service: issuing, superseding and fetching certificates (送达回证 / 电子送达凭证).

A certificate is issued for every ``dispatch_served`` event, pinning that event's hash and seq
(``certificates``: unique per (dispatch, chain_seq), so issuing twice stores one). The PDF is
rendered and signed by the court (PAdES) off the event loop, stored content-addressed in the
document store, and the row is written with a ``certificate_issued`` event in the dispatch's
transaction. The job ``render_certificate`` does it after service commits; the sweep finds
served dispatches still without one. A reversed service keeps its certificate, marked
``superseded_at`` (:func:`supersede`, called by ``reversal.unserve``); the next one names it in
``supersedes_id`` and on its page. Fetching the proof PDF is ``certificate_pdfs.py``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pyhanko.sign.timestamps.common_utils import TimestampRequestError

from delivery.context import Context
from delivery.domain import Attempt, Dispatch, DocumentRef, Event
from delivery.ids import new_id
from delivery.infra.certificate_signing import CertificateSignature, signed_certificate_pdf
from delivery.infra.pdf_rendering import render_in_pool
from delivery.services.transactions import dispatch_transaction
from delivery.storage import certificates as stored_certificates
from delivery.storage import staff as stored_staff
from delivery.storage.engine import Connection
from delivery.storage.unit_of_work import DispatchTransaction
from delivery.vocabulary import EventType
from templates.certificate import certificate_pdf
from templates.fonts import MissingGlyphs, code_point, font_name
from tracking.certificate import (
    SERVED_EVENT,
    UNSERVED_EVENT,
    CertificateView,
    Supersedes,
    certificate_view,
    served_events,
)

log = logging.getLogger(__name__)
SOURCE = "certificates"
ISSUED_EVENT = EventType.CERTIFICATE_ISSUED
# The certificate of a service cannot be drawn: a character no font covers (decision 0019).
BLOCKED_EVENT = EventType.CERTIFICATE_BLOCKED
CERTIFICATE_EVENTS = (ISSUED_EVENT, BLOCKED_EVENT)
ISSUE_TRIES = 3


@dataclass(frozen=True)
class CertificateRow:
    id: str
    dispatch_id: str
    locale: str
    sha256: str
    size: int
    chain_head: str
    chain_seq: int
    served_at: datetime
    service_date: date
    legal_basis: str
    created_at: datetime
    superseded_at: datetime | None
    supersedes_id: str | None


@dataclass(frozen=True)
class Record:
    """A dispatch's whole record, read once, to build certificates from."""

    dispatch: Dispatch
    documents: list[DocumentRef]
    attempts: list[Attempt]
    events: list[Event]
    names: dict[str, str]
    certificates: list[CertificateRow]


def _row(r: Any) -> CertificateRow:
    return CertificateRow(**{k: r[k] for k in CertificateRow.__dataclass_fields__})


async def _certificates(conn: Connection, dispatch_id: str) -> list[CertificateRow]:
    return [_row(r) for r in await stored_certificates.certificate_rows(conn, dispatch_id)]


async def actor_names(conn: Connection, found: list[Event]) -> dict[str, str]:
    """Display names of the people (staff accounts, API keys) the events name as actors."""
    actors = {e.actor for e in found if e.actor}
    staff = [a.removeprefix("staff:") for a in actors if a.startswith("staff:")]
    keys = [a.removeprefix("api_key:") for a in actors if a.startswith("api_key:")]
    names: dict[str, str] = {}
    if staff:
        for user_id, name in await stored_staff.display_names(conn, staff):
            names[f"staff:{user_id}"] = name
    if keys:
        for key_id, name in await stored_certificates.key_names(conn, keys):
            names[f"api_key:{key_id}"] = name
    return names


async def load_record(
    conn: Connection, dispatch_id: str, courts: tuple[str, ...] | None = None
) -> Record | None:
    found = await stored_certificates.record_rows(conn, dispatch_id, courts)
    if found is None:
        return None
    return Record(
        dispatch=found.dispatch,
        documents=found.documents,
        attempts=found.attempts,
        events=found.events,
        names=await actor_names(conn, found.events),
        certificates=await _certificates(conn, dispatch_id),
    )


def view_of(
    ctx: Context,
    record: Record,
    served: Event | None,
    *,
    certificate_id: str | None = None,
    supersedes: Supersedes | None = None,
) -> CertificateView:
    return certificate_view(
        dispatch=record.dispatch,
        documents=record.documents,
        attempts=record.attempts,
        events=record.events,
        served=served,
        names=record.names,
        zone=ctx.settings.zone,
        verify_base_url=ctx.settings.public_base_url,
        certificate_id=certificate_id,
        supersedes=supersedes,
    )


async def render_certificate(ctx: Context, view: CertificateView) -> bytes:
    """The certificate's PDF: glyph check, template, QR code and layout all in the render
    pool's worker, off the event loop. Unsigned: for previews, which are never stored. Raises
    ``MissingGlyphs`` instead of drawing a box."""
    return await render_in_pool(certificate_pdf, view, ctx.settings.fonts)


async def render_signed_certificate(ctx: Context, view: CertificateView) -> bytes:
    """The certificate's PDF signed by the court (PAdES; B-T with the configured TSA): what is
    stored and pinned by its SHA-256."""
    signature = CertificateSignature(
        ctx.require_signing_identity(), ctx.clock.now(), ctx.timestamper
    )
    return await signed_certificate_pdf(view, signature, ctx.settings.fonts)


async def issue_certificates(ctx: Context, dispatch_id: str) -> list[str]:
    """Issue a certificate for each service of the dispatch that has none (idempotent); the
    ids issued. Renders outside the dispatch's lock, then writes under it — unless another
    worker issued meanwhile, in which case it starts again from what is stored."""
    for _ in range(ISSUE_TRIES):
        async with ctx.engine.connect() as conn:
            record = await load_record(conn, dispatch_id)
        if record is None:
            return []
        known = {c.chain_seq: c for c in record.certificates}
        missing = [e for e in served_events(record.events) if e.seq not in known]
        if not missing:
            return []
        planned: list[dict[str, Any]] = []
        # (seq, id, date of service) of every certificate so far, stored or planned here.
        issued = [(c.chain_seq, c.id, c.service_date) for c in known.values()]
        for served in missing:
            previous = max((i for i in issued if i[0] < served.seq), default=None)
            supersedes = None if previous is None else Supersedes(previous[1], previous[2])
            certificate_id = new_id()
            view = view_of(
                ctx, record, served, certificate_id=certificate_id, supersedes=supersedes
            )
            try:
                pdf = await render_signed_certificate(ctx, view)
            except MissingGlyphs as outside_fonts:
                await _block(ctx, dispatch_id, served, outside_fonts)
                return []
            except TimestampRequestError:
                # The TSA is down or slow: the certificate waits (the sweep enqueues the job
                # again); service, webhooks and the checkpoint's own token do not (0021).
                log.warning(
                    "certificate not issued: the TSA did not answer",
                    extra={"dispatch_id": dispatch_id},
                )
                return []
            stored = await ctx.documents.store_bytes(pdf)
            planned.append(
                {
                    "id": certificate_id,
                    "dispatch_id": dispatch_id,
                    "locale": record.dispatch.locale,
                    "sha256": stored.sha256,
                    "size": stored.size,
                    "chain_head": served.hash,
                    "chain_seq": served.seq,
                    "served_at": datetime.fromisoformat(served.data["served_at"]),
                    "service_date": date.fromisoformat(served.data["service_date"]),
                    "legal_basis": served.data["legal_basis"],
                    "supersedes_id": None if supersedes is None else supersedes.certificate_id,
                }
            )
            issued.append((served.seq, certificate_id, planned[-1]["service_date"]))
        written = await _write(ctx, dispatch_id, {s: c.id for s, c in known.items()}, planned)
        if written is not None:
            return written
    log.warning("certificate not issued after retries", extra={"dispatch_id": dispatch_id})
    return []


async def _write(
    ctx: Context, dispatch_id: str, expected: dict[int, str], planned: list[dict[str, Any]]
) -> list[str] | None:
    """Store the planned rows under the dispatch's lock, or None when what is stored changed."""
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        stored = {c.chain_seq: c.id for c in await _certificates(tx.conn, dispatch_id)}
        if stored != expected:
            return None
        chain = await tx.events()
        for row in planned:
            # A service reversed before its certificate was made is superseded from the start.
            reversal = next(
                (e for e in chain if e.type == UNSERVED_EVENT and e.seq > row["chain_seq"]), None
            )
            await stored_certificates.insert_certificate(
                tx.conn,
                **row,
                created_at=tx.now,
                superseded_at=None if reversal is None else reversal.recorded_at,
            )
            tx.record(
                ISSUED_EVENT,
                source=SOURCE,
                data={
                    "certificate_id": row["id"],
                    "sha256": row["sha256"],
                    "chain_seq": row["chain_seq"],
                    "chain_head": row["chain_head"],
                    "supersedes_id": row["supersedes_id"],
                },
            )
    await ctx.queue.after_commit(tx.followups)
    log.info(
        "certificate issued",
        extra={"dispatch_id": dispatch_id, "certificates": [r["id"] for r in planned]},
    )
    return [str(r["id"]) for r in planned]


async def _block(ctx: Context, dispatch_id: str, served: Event, missing: MissingGlyphs) -> None:
    """Record, once, that the certificate of ``served`` cannot be drawn: the clerk's flag names
    each character and field. Issuing resumes by itself (job, sweep) once a supplementary font
    covers them (SONGDA_FONTS_DIR) — never a signed PDF with a box where a name should be."""
    data = {
        "chain_seq": served.seq,
        "fields": [
            {"field": name, "characters": [{"char": c, "code_point": code_point(c)} for c in chars]}
            for name, chars in missing.fields.items()
        ],
        "fonts": [font_name(f.path) for f in ctx.settings.fonts.fonts],
    }
    async with dispatch_transaction(ctx.engine, ctx.clock, dispatch_id) as tx:
        standing = standing_block(await tx.events())
        if standing is not None and standing.data == data:
            return
        tx.record(BLOCKED_EVENT, source=SOURCE, data=data)
    await ctx.queue.after_commit(tx.followups)
    # Field names only: the characters are part of a person's name or address.
    log.warning(
        "certificate blocked: characters outside the fonts",
        extra={"dispatch_id": dispatch_id, "fields": sorted(missing.fields)},
    )


def standing_block(chain: list[Event]) -> Event | None:
    """The ``certificate_blocked`` event still standing (no certificate issued after it)."""
    last = next((e for e in reversed(chain) if e.type in CERTIFICATE_EVENTS), None)
    return last if last is not None and last.type == BLOCKED_EVENT else None


def missing_glyphs(blocked: Event) -> MissingGlyphs:
    """What a ``certificate_blocked`` event recorded, as the error a PDF request answers with."""
    return MissingGlyphs(
        {f["field"]: [c["char"] for c in f["characters"]] for f in blocked.data["fields"]}
    )


def supersede(tx: DispatchTransaction) -> None:
    """Mark the standing certificate superseded, in the transaction that reverses service."""
    tx.execute_on_flush(stored_certificates.supersede_statement(tx.dispatch.id, tx.now))


async def unissued(ctx: Context, limit: int) -> list[tuple[str, int]]:
    """Served dispatches whose standing service has no certificate yet: (id, served seq)."""
    return await stored_certificates.unissued(ctx.engine, SERVED_EVENT, limit)
