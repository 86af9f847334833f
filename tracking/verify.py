"""Checking evidence offline: an evidence bundle against the court's published keys.

Nothing here trusts the server: the manifest's signature is checked with a published key, every
file against the manifest, then the events, checkpoints, tokens and certificates as
:mod:`tracking.verify_chain` checks them. Problems are listed in the order they were found; the
first is the verdict.
"""

from __future__ import annotations

import hashlib
import io
import json
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from asn1crypto import x509

from tracking.chain import GENESIS
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
from tracking.signing import ALG, KeyFormatError, PublicKey, parse_key_set
from tracking.timestamps import load_certificates, tsa_name
from tracking.verify_chain import Report, UnusableInput, check_certificate, check_chain

MAX_BUNDLE_FILE = 1 << 31


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
