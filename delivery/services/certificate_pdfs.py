"""Fetching a dispatch's proof of service as a PDF (the API's ``proof.pdf``): a certificate
named by id, the standing one (issued now if its job has not run yet), or — not served — a
preview rendered on the fly and never stored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from delivery.context import Context
from delivery.domain import DispatchState
from delivery.services.certificates import (
    CertificateRow,
    issue_certificates,
    load_record,
    missing_glyphs,
    render_certificate,
    standing_block,
    view_of,
)


class CertificateNotFound(Exception):
    pass


class CertificatePending(Exception):
    """A served dispatch whose certificate cannot be issued yet (the TSA is not answering);
    the job and the sweep keep trying. Never a preview in its place: that says "not served"."""


@dataclass(frozen=True)
class Proof:
    pdf: bytes
    certificate: CertificateRow | None  # None: a preview, not stored

    @property
    def preview(self) -> bool:
        return self.certificate is None


async def proof(
    ctx: Context, dispatch_id: str, courts: tuple[str, ...], certificate_id: str | None = None
) -> Proof | None:
    """The proof of a dispatch the caller may see (None otherwise): a named certificate, the
    standing one (issued now if the job has not run yet), or — not served — a preview."""
    async with ctx.engine.connect() as conn:
        record = await load_record(conn, dispatch_id, courts)
    if record is None:
        return None
    if certificate_id is not None:
        found = next((c for c in record.certificates if c.id == certificate_id), None)
        if found is None:
            raise CertificateNotFound(certificate_id)
        return Proof(await _read(ctx, found.sha256), found)
    if record.dispatch.state == DispatchState.SERVED:
        standing = _standing(record.certificates)
        if standing is None:
            await issue_certificates(ctx, dispatch_id)
            async with ctx.engine.connect() as conn:
                again = await load_record(conn, dispatch_id)
            standing = None if again is None else _standing(again.certificates)
            if standing is None:
                blocked = None if again is None else standing_block(again.events)
                if blocked is not None:
                    raise missing_glyphs(blocked)
                raise CertificatePending(dispatch_id)
        return Proof(await _read(ctx, standing.sha256), standing)
    return Proof(await render_certificate(ctx, view_of(ctx, record, None)), None)


def _standing(rows: list[CertificateRow]) -> CertificateRow | None:
    current = [c for c in rows if c.superseded_at is None]
    return current[-1] if current else None


async def _read(ctx: Context, sha256: str) -> bytes:
    return await asyncio.to_thread(ctx.documents.read, sha256)
