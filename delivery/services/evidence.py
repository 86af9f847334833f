"""Evidence out of the database: the signed bundle of one dispatch, and ``verify --db``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from asn1crypto import x509
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from delivery.clock import rfc3339
from delivery.context import Context
from delivery.infra.document_store import DocumentStore
from delivery.storage.engine import READ_ONLY
from delivery.storage.rows import event_from_row
from delivery.storage.schema import (
    certificates,
    dispatch_documents,
    dispatches,
    documents,
    media_files,
)
from delivery.storage.statements import SELECT_EVENTS
from tracking.evidence import CertificateEntry, FileEntry, build_bundle, chain_entry
from tracking.signing import PublicKey
from tracking.verify_chain import Report, check_certificate, check_chain


class EvidenceFileMissing(Exception):
    """A file the records name is not in the document store."""


async def _certificate_rows(conn: AsyncConnection, dispatch_id: str) -> list[Any]:
    rows = await conn.execute(
        sa.select(certificates)
        .where(certificates.c.dispatch_id == dispatch_id)
        .order_by(certificates.c.chain_seq, certificates.c.id)
    )
    return list(rows.mappings())


async def evidence_bundle(
    ctx: Context, dispatch_id: str, courts: Sequence[str], *, include_documents: bool
) -> bytes | None:
    """The dispatch's signed evidence zip, or ``None`` unless it is in one of ``courts``."""
    async with ctx.engine.connect() as conn:
        conn = await conn.execution_options(**READ_ONLY)
        dispatch = (
            (
                await conn.execute(
                    sa.select(dispatches.c.court, dispatches.c.case_number).where(
                        dispatches.c.id == dispatch_id, dispatches.c.court.in_(courts)
                    )
                )
            )
            .mappings()
            .first()
        )
        if dispatch is None:
            return None
        # Certificates before events: a certificate is written after the service it pins, so
        # every certificate read here finds its dispatch_served event among the events.
        cert_rows = await _certificate_rows(conn, dispatch_id)
        event_rows = await conn.execute(SELECT_EVENTS, {"dispatch_id": dispatch_id})
        chain = [event_from_row(r) for r in event_rows.mappings()]
        doc_rows = list(
            (
                await conn.execute(
                    sa.select(documents)
                    .join(dispatch_documents, dispatch_documents.c.document_id == documents.c.id)
                    .where(dispatch_documents.c.dispatch_id == dispatch_id)
                    .order_by(dispatch_documents.c.position)
                )
            ).mappings()
        )
        media_rows = list(
            (
                await conn.execute(
                    sa.select(media_files)
                    .where(media_files.c.dispatch_id == dispatch_id)
                    .order_by(media_files.c.id)
                )
            ).mappings()
        )
    store = ctx.documents
    certs = [
        CertificateEntry(
            id=r["id"],
            locale=r["locale"],
            sha256=r["sha256"],
            size=r["size"],
            chain_head=r["chain_head"],
            chain_seq=r["chain_seq"],
            served_at=r["served_at"],
            service_date=r["service_date"],
            legal_basis=r["legal_basis"],
            superseded_at=r["superseded_at"],
            supersedes_id=r["supersedes_id"],
            content=await _read(store, r["sha256"]),
        )
        for r in cert_rows
    ]
    docs = [
        FileEntry(
            id=r["id"],
            sha256=r["sha256"],
            size=r["size"],
            media_type=r["media_type"],
            attrs={"title": r["title"], "kind": r["kind"]},
            content=await _read(store, r["sha256"]) if include_documents else None,
        )
        for r in doc_rows
    ]
    media = [
        FileEntry(
            id=r["id"],
            sha256=r["sha256"],
            size=r["size"],
            media_type=r["media_type"],
            attrs={
                "purpose": r["purpose"],
                "attempt_id": r["attempt_id"],
                "uploaded_at": rfc3339(r["created_at"]),
            },
        )
        for r in media_rows
    ]
    return build_bundle(
        dispatch_id=dispatch_id,
        court=dispatch["court"],
        case_number=dispatch["case_number"],
        events=chain,
        certificates=certs,
        documents=docs,
        media=media,
        key=ctx.require_signing_key(),
        tsa_certificate=(
            await asyncio.to_thread(ctx.settings.tsa_cert_path.read_bytes)
            if ctx.settings.tsa_cert_path is not None
            else None
        ),
    )


async def _read(store: DocumentStore, sha256: str) -> bytes:
    path = store.path_for(sha256)
    try:
        return await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise EvidenceFileMissing(sha256) from None


async def verify_in_database(
    engine: AsyncEngine,
    dispatch_id: str,
    keys: Mapping[str, PublicKey],
    tsa_certs: Sequence[x509.Certificate] | None = None,
) -> Report | None:
    """The chain, checkpoints (with their RFC 3161 tokens, under ``tsa_certs``) and
    certificates of a dispatch, from its rows (``None``: no such dispatch). Detects a direct
    edit of an event row."""
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    sa.select(
                        dispatches.c.court,
                        dispatches.c.case_number,
                        dispatches.c.event_seq,
                        dispatches.c.chain_head,
                    ).where(dispatches.c.id == dispatch_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        cert_rows = await _certificate_rows(conn, dispatch_id)
        event_rows = await conn.execute(SELECT_EVENTS, {"dispatch_id": dispatch_id})
        entries = [chain_entry(event_from_row(r)) for r in event_rows.mappings()]
    report = Report(
        f"database records of dispatch {dispatch_id} ({row['court']}, {row['case_number']})"
    )
    by_seq = check_chain(entries, dispatch_id, keys, report, tsa_certs)
    last = entries[-1] if entries else None
    if last is None or last["hash"] != row["chain_head"] or last["seq"] != row["event_seq"]:
        report.problems.append(
            f"the dispatch row's chain head (seq {row['event_seq']}, {row['chain_head']}) is not "
            "the last event's"
        )
    for cert in cert_rows:
        record = {
            "chain_seq": cert["chain_seq"],
            "chain_head": cert["chain_head"],
            "served_at": rfc3339(cert["served_at"]),
            "service_date": cert["service_date"].isoformat(),
            "legal_basis": cert["legal_basis"],
        }
        check_certificate(record, by_seq, f"certificate {cert['id']}", report)
    return report
