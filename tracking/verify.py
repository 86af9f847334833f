"""Checking evidence offline: an evidence bundle (or the database's rows) against the court's
published keys.

Nothing here trusts the server: the manifest's signature is checked with a published key, every
file against the manifest, the chain is recomputed from the events, every ``chain_checkpoint``'s
signature and pinned head are checked, and the certificate's date of service, legal basis and head
hash against the ``dispatch_served`` event it pins. Problems are listed in the order they were
found; the first is the verdict.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import x509

from delivery.clock import rfc3339
from delivery.vocabulary import EventType
from tracking.chain import GENESIS, canonical, link_hash
from tracking.evidence import (
    CERTIFICATE_JSON,
    CERTIFICATE_PDF,
    EVENTS,
    FORMAT,
    MANIFEST,
    SIGNATURE,
    TSA_CERTIFICATE,
    sha256_hex,
)
from tracking.signing import ALG, KeyFormatError, PublicKey, checkpoint_statement, parse_key_set
from tracking.timestamps import (
    EVENT,
    TOLERANCE,
    TokenError,
    beyond_tolerance,
    check_token,
    load_certificates,
    tsa_name,
)

HASHED_FIELDS = (
    "id",
    "dispatch_id",
    "seq",
    "type",
    "occurred_at",
    "recorded_at",
    "source",
    "actor",
    "attempt_id",
    "data",
)
MAX_BUNDLE_FILE = 1 << 31


class UnusableInput(Exception):
    """The input cannot be checked at all (exit 2): not a zip, no manifest, keys unreadable."""


@dataclass
class Report:
    """What a verification found: ``problems`` empty means valid."""

    subject: str
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    def render(self) -> str:
        if self.valid:
            lines = [f"VALID: {self.subject}"]
            lines += [f"  ok  {line}" for line in self.checked]
        else:
            lines = [f"INVALID: {self.subject}", f"  first problem: {self.problems[0]}"]
            lines += [f"  also: {line}" for line in self.problems[1:]]
        return "\n".join(lines)


def load_keys(source: str) -> dict[str, PublicKey]:
    """The published keys from a ``songda-keys.json`` file or URL; :class:`UnusableInput` when
    they cannot be read."""
    try:
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=20) as response:
                raw = response.read(1 << 20)
        else:
            raw = Path(source).read_bytes()
        return parse_key_set(json.loads(raw))
    except (OSError, ValueError) as exc:
        raise UnusableInput(f"the keys {source!r} cannot be read: {exc}") from None
    except KeyFormatError as exc:
        raise UnusableInput(f"the keys {source!r} are not a key set: {exc}") from None


def _event_label(entry: Any, position: int) -> str:
    if isinstance(entry, dict):
        return f"event seq {entry.get('seq')} (id {entry.get('id')})"
    return f"event #{position}"


def check_chain(
    entries: Sequence[Any],
    dispatch_id: str,
    keys: Mapping[str, PublicKey],
    report: Report,
    tsa_certs: Sequence[x509.Certificate] | None = None,
) -> dict[int, dict[str, Any]]:
    """Recompute the chain, then check every checkpoint and its third-party time (under
    ``tsa_certs``, the TSA certificates trusted); returns the intact events by seq."""
    prev = GENESIS
    by_seq: dict[int, dict[str, Any]] = {}
    for position, entry in enumerate(entries, start=1):
        label = _event_label(entry, position)
        if not isinstance(entry, dict) or set(entry) != {*HASHED_FIELDS, "prev_hash", "hash"}:
            report.problems.append(f"{label}: not an event record (fields missing or extra)")
            break
        if entry["dispatch_id"] != dispatch_id:
            report.problems.append(f"{label}: belongs to dispatch {entry['dispatch_id']}")
            break
        if entry["seq"] != position:
            report.problems.append(
                f"{label} is at position {position}: an event was removed, inserted or moved "
                f"(expected seq {position})"
            )
            break
        if entry["prev_hash"] != prev:
            report.problems.append(f"{label}: prev_hash does not link to the event before it")
            break
        try:
            digest = link_hash(prev, {name: entry[name] for name in HASHED_FIELDS})
        except (TypeError, ValueError):
            digest = ""
        if digest != entry["hash"]:
            report.problems.append(f"{label}: hash does not match its content (changed)")
            break
        by_seq[position] = entry
        prev = entry["hash"]
    else:
        report.checked.append(f"chain of {len(entries)} events recomputed, head {prev}")
    signed = _check_checkpoints(by_seq, dispatch_id, keys, report)
    check_timestamps(by_seq, signed, tsa_certs, report)
    return by_seq


def _check_checkpoints(
    by_seq: Mapping[int, dict[str, Any]],
    dispatch_id: str,
    keys: Mapping[str, PublicKey],
    report: Report,
) -> list[int]:
    """Check every checkpoint; the seqs of those that are valid."""
    count = 0
    signed: set[int] = set()
    valid: list[int] = []
    for seq, entry in by_seq.items():
        if entry["type"] != EventType.CHAIN_CHECKPOINT:
            continue
        label = _event_label(entry, seq)
        data = entry["data"]
        if not isinstance(data, dict):
            report.problems.append(f"{label}: checkpoint without data")
            continue
        pinned_seq = data.get("seq")
        pinned = by_seq.get(pinned_seq) if isinstance(pinned_seq, int) else None
        if pinned is None or pinned["seq"] >= seq:
            report.problems.append(f"{label}: checkpoint pins seq {data.get('seq')}, not an event")
            continue
        if pinned["hash"] != data.get("head"):
            report.problems.append(
                f"{label}: checkpoint head does not match event seq {pinned['seq']}'s hash"
            )
            continue
        key = keys.get(str(data.get("key_id")))
        if key is None:
            report.problems.append(
                f"{label}: checkpoint signed by key {data.get('key_id')!r}, "
                "not among the court's published keys"
            )
            continue
        statement = canonical(checkpoint_statement(dispatch_id, pinned["seq"], pinned["hash"]))
        if data.get("alg") != ALG or not key.verify(str(data.get("signature")), statement):
            report.problems.append(f"{label}: checkpoint signature does not verify")
            continue
        count += 1
        signed.add(pinned["seq"])
        valid.append(seq)
    # Every service is pinned by a signed checkpoint: without one, a rewritten chain (events
    # edited, the checkpoint dropped, the rest rehashed) would recompute cleanly.
    for seq, entry in by_seq.items():
        if entry["type"] == EventType.DISPATCH_SERVED and seq not in signed:
            label = _event_label(entry, seq)
            report.problems.append(f"{label}: a dispatch_served event with no signed checkpoint")
    if count:
        report.checked.append(f"{count} chain checkpoint(s) signed by the court key")
    return valid


def check_timestamps(
    by_seq: Mapping[int, dict[str, Any]],
    checkpoints: Sequence[int],
    tsa_certs: Sequence[x509.Certificate] | None,
    report: Report,
) -> None:
    """Each RFC 3161 token against the checkpoint it names and the trusted TSA certificates;
    per checkpoint, "timestamped by <TSA> at <time>" or "no third-party time"."""
    stamped: set[int] = set()
    for seq, entry in by_seq.items():
        if entry["type"] != EVENT:
            continue
        label = _event_label(entry, seq)
        data = entry["data"] if isinstance(entry["data"], dict) else {}
        target = data.get("checkpoint_seq")
        checkpoint = by_seq.get(target) if isinstance(target, int) and target < seq else None
        if checkpoint is None or checkpoint["type"] != EventType.CHAIN_CHECKPOINT:
            report.problems.append(f"{label}: a token for seq {target}, not a chain checkpoint")
            continue
        if data.get("checkpoint_hash") != checkpoint["hash"]:
            report.problems.append(f"{label}: names a hash that is not checkpoint seq {target}'s")
            continue
        if tsa_certs is None:
            # Not a fault of the record: the reader lacks what checks it (exit 2, not 1).
            raise UnusableInput(
                f"{label}: a token, but no TSA certificate to check it with "
                "(give --tsa-cert FILE, or set SONGDA_TSA_CERT)"
            )
        try:
            recorded_at = datetime.fromisoformat(str(checkpoint["recorded_at"]))
        except ValueError:
            report.problems.append(f"{label}: checkpoint seq {target} has no recorded time")
            continue
        try:
            token = base64.b64decode(str(data.get("token")), validate=True)
            stamp = check_token(token, checkpoint["hash"], recorded_at, tsa_certs)
        except (TokenError, binascii.Error) as exc:
            report.problems.append(f"{label}: the token of checkpoint seq {target} is bad: {exc}")
            continue
        if data.get("tsa") != stamp.tsa or data.get("gen_time") != rfc3339(stamp.gen_time):
            report.problems.append(f"{label}: its TSA or time is not what its token says")
            continue
        line = f"checkpoint seq {target}: timestamped by {stamp.tsa} at {rfc3339(stamp.gen_time)}"
        if beyond_tolerance(stamp, recorded_at):
            line += (
                f" — more than {_hours(TOLERANCE)} h after its recorded time: it proves the "
                "checkpoint existed by then, not at its recorded time"
            )
        else:
            line += f" (within {_hours(TOLERANCE)} h of its recorded time)"
        report.checked.append(line)
        stamped.add(checkpoint["seq"])
    for seq in checkpoints:
        if seq not in stamped:
            report.checked.append(f"checkpoint seq {seq}: no third-party time")


def _hours(delta: timedelta) -> int:
    return int(delta.total_seconds() // 3600)


def tsa_certificates(data: bytes, source: str) -> list[x509.Certificate]:
    """The TSA certificate(s) of a PEM file; :class:`UnusableInput` when there are none."""
    try:
        return load_certificates(data)
    except ValueError as exc:
        raise UnusableInput(f"the TSA certificate {source!r} cannot be read: {exc}") from None


def describe_tsa_certificates(certs: Sequence[x509.Certificate], source: str) -> str:
    """Which TSA certificates the tokens were checked under, by name and SHA-256 fingerprint,
    so a reader can compare them with the TSA's own publication."""
    named = ", ".join(
        f"{tsa_name(c)} (SHA-256 {hashlib.sha256(c.dump()).hexdigest()})" for c in certs
    )
    return f"TSA certificate(s) from {source}: {named}"


def check_certificate(
    cert: Mapping[str, Any], by_seq: Mapping[int, dict[str, Any]], name: str, report: Report
) -> None:
    """The certificate's head, date of service and legal basis against the event it pins."""
    seq = cert.get("chain_seq")
    pinned = by_seq.get(seq) if isinstance(seq, int) else None
    if pinned is None:
        report.problems.append(f"{name}: pins seq {seq}, which is not an intact event of the chain")
        return
    label = _event_label(pinned, pinned["seq"])
    if pinned["type"] != EventType.DISPATCH_SERVED:
        report.problems.append(f"{name}: pins {label}, a {pinned['type']}, not dispatch_served")
        return
    label = f"the dispatch_served {label}"
    if cert.get("chain_head") != pinned["hash"]:
        report.problems.append(f"{name}: chain_head does not match {label}'s hash")
        return
    data = pinned["data"] if isinstance(pinned["data"], dict) else {}
    for field_name in ("served_at", "service_date", "legal_basis"):
        if cert.get(field_name) != data.get(field_name):
            report.problems.append(
                f"{name}: {field_name} {cert.get(field_name)!r} does not match {label} "
                f"({data.get(field_name)!r})"
            )
            return
    checkpointed = any(
        e["type"] == EventType.CHAIN_CHECKPOINT
        and isinstance(e["data"], dict)
        and e["data"].get("head") == pinned["hash"]
        for e in by_seq.values()
    )
    report.checked.append(
        f"{name}: served {data.get('service_date')} under {data.get('legal_basis')}, head "
        f"matches {label}" + (", signed by a checkpoint" if checkpointed else "")
    )


def _read_json(contents: Mapping[str, bytes], name: str, report: Report) -> Any:
    try:
        return json.loads(contents[name])
    except (ValueError, KeyError) as exc:
        report.problems.append(f"{name}: not readable JSON ({exc})")
        return None


def verify_bundle(
    data: bytes,
    keys: Mapping[str, PublicKey],
    tsa_certs: Sequence[x509.Certificate] | None = None,
) -> Report:
    """Check an evidence bundle's bytes; :class:`UnusableInput` when it is not one at all.

    Tokens are checked under ``tsa_certs`` (the TSA's certificate as the reader obtained it)
    or, without them, under the bundle's own ``tsa/certificate.pem``, named with its
    fingerprint in the report so the reader can compare it with the TSA's publication."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UnusableInput("not a zip file (an evidence bundle is a .zip)") from None
    names = archive.namelist()
    if MANIFEST not in names:
        raise UnusableInput(f"no {MANIFEST} in the zip: not a Songda evidence bundle")
    contents: dict[str, bytes] = {}
    corrupt: list[str] = []
    for info in archive.infolist():
        # A second entry of the same name (or one that escapes the bundle) would let a reader
        # see another file than the one checked here: the bundle is not intact.
        name = info.filename
        if info.is_dir():
            continue  # a folder entry (zip tools add them when a bundle is re-packed): no content
        if name in contents or name.startswith("/") or ".." in name.split("/"):
            corrupt.append(f"{name}: a repeated or unsafe entry name in the zip")
            continue
        if info.file_size > MAX_BUNDLE_FILE:
            corrupt.append(f"{info.filename}: larger than any bundle file")
            continue
        try:
            contents[info.filename] = archive.read(info)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            corrupt.append(f"{info.filename}: damaged in the zip ({exc})")
    manifest_bytes = contents.get(MANIFEST)
    if manifest_bytes is None:
        raise UnusableInput(f"{MANIFEST} cannot be read from the zip")
    report = Report("evidence bundle")
    report.problems.extend(corrupt)

    # 1. The signature over manifest.json's exact bytes, by a published court key.
    _check_signature(contents.get(SIGNATURE), manifest_bytes, keys, report)
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError:
        report.problems.append(f"{MANIFEST}: not JSON")
        return report
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        report.problems.append(f"{MANIFEST}: not a {FORMAT} manifest")
        return report
    dispatch_id = str(manifest.get("dispatch_id"))
    report.subject = (
        f"evidence bundle of dispatch {dispatch_id} ({manifest.get('court')}, "
        f"{manifest.get('case_number')})"
    )

    # 2. Every file against the manifest, and nothing the manifest does not list.
    listed = {f.get("path"): f for f in manifest.get("files", []) if isinstance(f, dict)}
    for path, entry in sorted(listed.items()):
        content = contents.get(str(path))
        if content is None:
            report.problems.append(f"{path}: listed in the manifest but missing from the zip")
        elif sha256_hex(content) != entry.get("sha256") or len(content) != entry.get("size"):
            report.problems.append(f"{path}: SHA-256 does not match the manifest (file changed)")
    for name in sorted(set(contents) - set(listed) - {MANIFEST, SIGNATURE}):
        report.problems.append(f"{name}: in the zip but not in the manifest (file added)")
    if not report.problems:
        report.checked.append(f"{len(listed)} file(s) match the signed manifest")
    for doc in manifest.get("documents", []):
        if isinstance(doc, dict) and doc.get("included"):
            listed_doc = listed.get(doc.get("path"))
            if listed_doc is None or listed_doc.get("sha256") != doc.get("sha256"):
                report.problems.append(f"{doc.get('path')}: not the document {doc.get('id')}")

    # 3. The chain, recomputed from events.json, and its checkpoints.
    entries = _read_json(contents, EVENTS, report) if EVENTS in contents else None
    if EVENTS not in contents:
        report.problems.append(f"{EVENTS}: missing from the zip")
    if not isinstance(entries, list):
        if entries is not None:
            report.problems.append(f"{EVENTS}: not a list of events")
        return report
    if tsa_certs is None and TSA_CERTIFICATE in listed and TSA_CERTIFICATE in contents:
        try:
            tsa_certs = load_certificates(contents[TSA_CERTIFICATE])
            report.checked.append(
                describe_tsa_certificates(tsa_certs, f"the bundle's {TSA_CERTIFICATE}")
            )
        except ValueError:
            report.problems.append(f"{TSA_CERTIFICATE}: not a PEM certificate")
    by_seq = check_chain(entries, dispatch_id, keys, report, tsa_certs)
    chain: dict[str, Any] = manifest["chain"] if isinstance(manifest.get("chain"), dict) else {}
    head = entries[-1].get("hash") if entries and isinstance(entries[-1], dict) else GENESIS
    if chain.get("head") != head or chain.get("length") != len(entries):
        report.problems.append(
            f"{EVENTS}: the chain ends at seq {len(entries)}, head {head}; the manifest says "
            f"length {chain.get('length')}, head {chain.get('head')}"
        )

    # 4. The certificates against the dispatch_served events they pin.
    if CERTIFICATE_JSON in contents:
        cert = _read_json(contents, CERTIFICATE_JSON, report)
        if isinstance(cert, dict):
            pdf = listed.get(CERTIFICATE_PDF)
            if pdf is None or pdf.get("sha256") != cert.get("sha256"):
                report.problems.append(f"{CERTIFICATE_JSON}: does not describe {CERTIFICATE_PDF}")
            check_certificate(cert, by_seq, CERTIFICATE_JSON, report)
    for cert in manifest.get("certificates", []):
        if isinstance(cert, dict) and cert.get("superseded_at") is not None:
            pdf = listed.get(cert.get("path"))
            if pdf is None or pdf.get("sha256") != cert.get("sha256"):
                report.problems.append(f"{cert.get('path')}: not the certificate {cert.get('id')}")
            check_certificate(cert, by_seq, f"superseded certificate {cert.get('id')}", report)
    return report


def _check_signature(
    sig_bytes: bytes | None, manifest: bytes, keys: Mapping[str, PublicKey], report: Report
) -> None:
    if sig_bytes is None:
        report.problems.append(f"{SIGNATURE}: missing — the manifest is not signed")
        return
    try:
        sig = json.loads(sig_bytes)
    except ValueError:
        sig = None
    if not isinstance(sig, dict) or sig.get("alg") != ALG:
        report.problems.append(f"{SIGNATURE}: not an {ALG} signature record")
        return
    key = keys.get(str(sig.get("kid")))
    if key is None:
        report.problems.append(
            f"{SIGNATURE}: signed by key {sig.get('kid')!r}, not among the court's published keys"
        )
        return
    if not key.verify(str(sig.get("signature")), manifest):
        report.problems.append(f"{SIGNATURE}: the signature does not match {MANIFEST}")
        return
    report.checked.append(f"{MANIFEST} signed by court key {key.kid}")
