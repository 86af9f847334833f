"""Evidence out of the database: the signed bundle of one dispatch, and ``verify --db``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from asn1crypto import x509

from delivery.clock import rfc3339
from delivery.context import Context
from delivery.infra.document_store import DocumentStore
from delivery.storage import evidence as stored_evidence
from delivery.storage.engine import Engine
from tracking.evidence import CertificateEntry, FileEntry, build_bundle, chain_entry
from tracking.signing import PublicKey
from tracking.verify_chain import Report, check_certificate, check_chain


class EvidenceFileMissing(Exception):
    """A file the records name is not in the document store."""


async def evidence_bundle(
    ctx: Context, dispatch_id: str, courts: Sequence[str], *, include_documents: bool
) -> bytes | None:
    """The dispatch's signed evidence zip, or ``None`` unless it is in one of ``courts``."""
    found = await stored_evidence.bundle_rows(ctx.engine, dispatch_id, courts)
    if found is None:
        return None
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
        for r in found.certificates
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
        for r in found.documents
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
        for r in found.media
    ]
    return build_bundle(
        dispatch_id=dispatch_id,
        court=found.dispatch["court"],
        case_number=found.dispatch["case_number"],
        events=found.events,
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
    engine: Engine,
    dispatch_id: str,
    keys: Mapping[str, PublicKey],
    tsa_certs: Sequence[x509.Certificate] | None = None,
) -> Report | None:
    """The chain, checkpoints (with their RFC 3161 tokens, under ``tsa_certs``) and
    certificates of a dispatch, from its rows (``None``: no such dispatch). Detects a direct
    edit of an event row."""
    found = await stored_evidence.chain_rows(engine, dispatch_id)
    if found is None:
        return None
    row = found.dispatch
    entries = [chain_entry(e) for e in found.events]
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
    for cert in found.certificates:
        record = {
            "chain_seq": cert["chain_seq"],
            "chain_head": cert["chain_head"],
            "served_at": rfc3339(cert["served_at"]),
            "service_date": cert["service_date"].isoformat(),
            "legal_basis": cert["legal_basis"],
        }
        check_certificate(record, by_seq, f"certificate {cert['id']}", report)
    return report
