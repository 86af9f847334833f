"""The evidence bundle: one zip a court files and anyone can check offline.

Layout (every entry sorted by path)::

    events.json               the whole chain, RFC 8785 JSON: a list of events, each the fields
                              the chain hashes plus its prev_hash and hash
    certificate.pdf           the current certificate (when the dispatch has one)
    certificate.json          its record: id, sha256, chain_head, chain_seq, served_at, ...
    certificates/<id>.pdf     superseded certificates
    documents/<sha256>.pdf    the documents themselves (only when asked for)
    tsa/certificate.pem       the time-stamping authority's certificate(s) the checkpoints'
                              RFC 3161 tokens are checked with (when a TSA is configured)
    manifest.json             RFC 8785 JSON: dispatch, chain head and length, every file above
                              with SHA-256 and size, every document and media file with SHA-256
    manifest.sig              {"kid", "alg", "signature"}: Ed25519 over manifest.json's bytes

The zip is deterministic: fixed timestamps (1980-01-01), fixed permissions and compression,
sorted entries, and no time of generation anywhere — so two downloads with no new event in
between are byte-identical.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from delivery.clock import rfc3339
from delivery.domain import Event
from tracking.chain import GENESIS, canonical, event_fields
from tracking.signing import ALG, SigningKey

FORMAT = "songda-evidence-bundle/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
EVENTS = "events.json"
CERTIFICATE_PDF = "certificate.pdf"
CERTIFICATE_JSON = "certificate.json"
TSA_CERTIFICATE = "tsa/certificate.pem"
CHAIN_ALGORITHM = "sha256_hex(prev_hash + RFC 8785 JSON of the event without prev_hash/hash)"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESSION = zipfile.ZIP_DEFLATED
COMPRESS_LEVEL = 9


@dataclass(frozen=True)
class CertificateEntry:
    """A certificate of the dispatch with its PDF bytes."""

    id: str
    locale: str
    sha256: str
    size: int
    chain_head: str
    chain_seq: int
    served_at: datetime
    service_date: date
    legal_basis: str
    superseded_at: datetime | None
    supersedes_id: str | None
    content: bytes

    @property
    def current(self) -> bool:
        return self.superseded_at is None

    @property
    def path(self) -> str:
        return CERTIFICATE_PDF if self.current else f"certificates/{self.id}.pdf"

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "locale": self.locale,
            "sha256": self.sha256,
            "size": self.size,
            "chain_head": self.chain_head,
            "chain_seq": self.chain_seq,
            "served_at": rfc3339(self.served_at),
            "service_date": self.service_date.isoformat(),
            "legal_basis": self.legal_basis,
            "superseded_at": rfc3339(self.superseded_at) if self.superseded_at else None,
            "supersedes_id": self.supersedes_id,
        }


@dataclass(frozen=True)
class FileEntry:
    """A document or media file of the dispatch: listed always, included when ``content``."""

    id: str
    sha256: str
    size: int
    media_type: str
    attrs: Mapping[str, Any]
    content: bytes | None = None

    @property
    def path(self) -> str | None:
        return None if self.content is None else f"documents/{self.sha256}.pdf"

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.attrs,
            "sha256": self.sha256,
            "size": self.size,
            "media_type": self.media_type,
            "included": self.content is not None,
            "path": self.path,
        }


def chain_entry(event: Event) -> dict[str, Any]:
    """One event as events.json holds it: the hashed fields plus its links."""
    return {**event_fields(event), "prev_hash": event.prev_hash, "hash": event.hash}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_bundle(
    *,
    dispatch_id: str,
    court: str,
    case_number: str,
    events: Sequence[Event],
    certificates: Sequence[CertificateEntry],
    documents: Sequence[FileEntry],
    media: Sequence[FileEntry],
    key: SigningKey,
    tsa_certificate: bytes | None = None,
) -> bytes:
    """The signed, deterministic zip of one dispatch's evidence."""
    files: dict[str, bytes] = {EVENTS: canonical([chain_entry(e) for e in events])}
    if tsa_certificate is not None:
        files[TSA_CERTIFICATE] = tsa_certificate
    current = [c for c in certificates if c.current]
    for cert in certificates:
        files[cert.path] = cert.content
    if current:
        files[CERTIFICATE_JSON] = canonical(current[-1].record())
    for doc in documents:
        if doc.content is not None and doc.path is not None:
            files[doc.path] = doc.content
    manifest = {
        "format": FORMAT,
        "dispatch_id": dispatch_id,
        "court": court,
        "case_number": case_number,
        "chain": {
            "head": events[-1].hash if events else GENESIS,
            "length": len(events),
            "genesis": GENESIS,
            "algorithm": CHAIN_ALGORITHM,
        },
        "files": [
            {"path": path, "sha256": sha256_hex(content), "size": len(content)}
            for path, content in sorted(files.items())
        ],
        "certificates": [c.record() for c in certificates],
        "documents": [d.record() for d in documents],
        "media": [m.record() for m in media],
    }
    manifest_bytes = canonical(manifest)
    files[MANIFEST] = manifest_bytes
    files[SIGNATURE] = canonical(
        {"kid": key.kid, "alg": ALG, "signature": key.sign(manifest_bytes)}
    )
    return write_zip(files)


def write_zip(files: Mapping[str, bytes]) -> bytes:
    """A zip with the same bytes for the same files: sorted, fixed times, modes, compression."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=ZIP_TIME)
            info.compress_type = COMPRESSION
            info.create_system = 3  # Unix, whatever machine builds it
            info.external_attr = 0o100644 << 16
            archive.writestr(info, files[path], compress_type=COMPRESSION, compresslevel=9)
    return buffer.getvalue()
