"""The court's key files (``SONGDA_KEYS_DIR``, default ``<data dir>/keys``).

One deployment, one key directory::

    keys/
      active              the kid of the key set that signs now (one line)
      <kid>.json          public part: kid, alg, base64url public key, created_at
      <kid>.key           Ed25519 private key: PKCS#8 PEM, mode 0600, never logged or printed
      <kid>.pdf.key       the PDF-signing private key (ECDSA P-256 when made here), mode 0600
      <kid>.pdf.pem       its certificate chain: signing certificate first, court root last
      <kid>.cert.pem      the certificate for the Ed25519 key, then its issuers
      root.pem, root.key  the court root Songda made (a court without its own PKI only)

A *key set* (one kid) is an Ed25519 key — checkpoints and bundle manifests — and a PDF-signing
key with its X.509 chain — the certificate PDFs (PAdES) —, both certified under one court root.
``songda keys create`` adds a key set issued by the court root (made on first use) and makes it
the active one (rotation); ``songda keys import`` adds one around a key and chain the court's
own CA issued. Old key sets stay in the directory and stay published, so everything they signed
still verifies. See docs/decisions/0010-court-keys-and-evidence-bundles.md and
0020-pades-and-court-certificates.md.
"""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from delivery.clock import Clock, rfc3339
from delivery.config import SANDBOX_COURT
from delivery.infra.private_files import private_dir
from templates.i18n import SOURCE_LOCALE, ptranslate, translate
from templates.texts import Text, wording
from tracking import court_certificates as certs
from tracking.court_certificates import CertificateError, Issuer, SigningIdentity
from tracking.signing import (
    ALG,
    KeyFormatError,
    PublicKey,
    SigningKey,
    b64url,
    key_id,
    parse_key_set,
    raw_public_bytes,
)

ACTIVE_FILE = "active"
ROOT_CERT = "root.pem"
ROOT_KEY = "root.key"
PDF_KEY = ".pdf.key"
PDF_CHAIN = ".pdf.pem"
KEY_CERT = ".cert.pem"
KID_RE = re.compile(r"[0-9a-f]{16}")
CREATE_HINT = "run `songda keys create`"


class KeyStoreError(Exception):
    """The key directory cannot give a usable key; the message says what to do."""


def create_key(keys_dir: Path, clock: Clock, court: str = SANDBOX_COURT) -> PublicKey:
    """A new key set issued by the court root (made now if there is none), made active."""
    private_dir(keys_dir)
    now = clock.now()
    root = _court_root(keys_dir, court, now)
    signing_key = certs.new_signing_key()
    chain = [certs.issue_pdf_signing(root, court, signing_key.public_key(), now), root.certificate]
    return _add_key_set(keys_dir, now, court, signing_key, chain, (root, [root.certificate]))


def import_key(
    keys_dir: Path, clock: Clock, key: certs.PrivateKey, certificates: list[x509.Certificate]
) -> PublicKey:
    """A new key set around a PDF-signing key and chain the court's CA issued, made active.
    Its Ed25519 key is certified by that signing certificate (Songda holds no CA key here)."""
    now = clock.now()
    chain = certs.check_chain(key, certificates, now)
    private_dir(keys_dir)
    court = _court_of(chain[0])
    return _add_key_set(keys_dir, now, court, key, chain, (Issuer(chain[0], key), chain))


def _court_of(certificate: x509.Certificate) -> str:
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        names = certificate.subject.get_attributes_for_oid(oid)
        if names:
            return str(names[0].value)
    return certificate.subject.rfc4514_string()


def _court_root(keys_dir: Path, court: str, now: datetime) -> Issuer:
    """The court root Songda keeps for a court without its own PKI, made on first use."""
    cert_path, key_path = keys_dir / ROOT_CERT, keys_dir / ROOT_KEY
    if not cert_path.exists():
        key = certs.new_signing_key()
        root = certs.new_root(court, key, now)
        _write_private(key_path, certs.key_pem(key))
        _write_atomically(cert_path, certs.pem([root]).decode("ascii"), 0o644)
        return Issuer(root, key)
    if not key_path.exists():
        raise KeyStoreError(
            f"the court root's private key is not in {keys_dir} ({ROOT_KEY}): put it back to "
            "issue a new key set, or `songda keys import` a key and chain from the court's CA"
        )
    try:
        root = certs.load_pem_chain(cert_path.read_bytes())[0]
        root_key = certs.load_pem_key(_read_private(key_path))
    except CertificateError as exc:
        raise KeyStoreError(f"the court root in {keys_dir}: {exc}") from None
    return Issuer(root, root_key)


def _add_key_set(
    keys_dir: Path,
    now: datetime,
    court: str,
    signing_key: certs.PrivateKey,
    chain: list[x509.Certificate],
    checkpoint_issuer: tuple[Issuer, list[x509.Certificate]],
) -> PublicKey:
    """Write a key set's files, ``active`` last: a half-written set never signs."""
    private_key = Ed25519PrivateKey.generate()
    public_key = private_key.public_key()
    kid = key_id(public_key)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(keys_dir / f"{kid}.key", pem)
    _write_private(keys_dir / f"{kid}{PDF_KEY}", certs.key_pem(signing_key))
    _write_atomically(keys_dir / f"{kid}{PDF_CHAIN}", certs.pem(chain).decode("ascii"), 0o644)
    issuer, issuer_chain = checkpoint_issuer
    certified = certs.issue_checkpoint(issuer, court, kid, public_key, now)
    _write_atomically(
        keys_dir / f"{kid}{KEY_CERT}", certs.pem([certified, *issuer_chain]).decode("ascii"), 0o644
    )
    public = {
        "kid": kid,
        "alg": ALG,
        "public_key": b64url(raw_public_bytes(public_key)),
        "created_at": rfc3339(now),
    }
    _write_atomically(keys_dir / f"{kid}.json", json.dumps(public, indent=2) + "\n", 0o644)
    _write_atomically(keys_dir / ACTIVE_FILE, kid + "\n", 0o644)
    return PublicKey(kid, public_key, now, active=True)


def _write_private(path: Path, pem: bytes) -> None:
    # O_EXCL: never overwrite a key; 0600 from the first byte (no window where it is readable).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def _read_private(path: Path) -> bytes:
    """A private key file's bytes, refused when group or others may read it (as ssh does)."""
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyStoreError(
            f"{path} is readable by others: `chmod 600 {path}` (and check who read it)"
        )
    return path.read_bytes()


def _write_atomically(path: Path, text: str, mode: int) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temp, path)


def active_kid(keys_dir: Path) -> str | None:
    path = keys_dir / ACTIVE_FILE
    if not path.is_file():
        return None
    kid = path.read_text(encoding="utf-8").strip()
    return kid if KID_RE.fullmatch(kid) else None


def published_keys(keys_dir: Path) -> list[PublicKey]:
    """Every key in the directory, oldest first, the active one marked."""
    if not keys_dir.is_dir():
        return []
    active = active_kid(keys_dir)
    entries = []
    for path in sorted(keys_dir.glob("*.json")):
        if not KID_RE.fullmatch(path.stem):
            continue
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"{path}: not readable ({exc})") from None
        if isinstance(entry, dict):
            entry["active"] = entry.get("kid") == active
        entries.append(entry)
    try:
        keys = parse_key_set({"keys": entries})
    except KeyFormatError as exc:
        raise KeyStoreError(f"{keys_dir}: {exc}") from None
    return sorted(keys.values(), key=lambda k: (k.created_at, k.kid))


def load_signing_key(keys_dir: Path) -> SigningKey:
    """The active private key; :class:`KeyStoreError` naming the fix when there is none."""
    kid = active_kid(keys_dir)
    if kid is None:
        raise KeyStoreError(f"no court signing key in {keys_dir}: {CREATE_HINT}")
    path = keys_dir / f"{kid}.key"
    try:
        private_key = serialization.load_pem_private_key(_read_private(path), password=None)
    except OSError as exc:
        raise KeyStoreError(
            f"the active key {kid} cannot be read ({exc.strerror}): {CREATE_HINT}"
        ) from None
    except ValueError:
        raise KeyStoreError(f"{path} is not a PEM private key") from None
    if not isinstance(private_key, Ed25519PrivateKey) or key_id(private_key.public_key()) != kid:
        raise KeyStoreError(f"{path} is not the Ed25519 key {kid}")
    public = {k.kid: k for k in published_keys(keys_dir)}.get(kid)
    if public is None:
        raise KeyStoreError(f"the active key {kid} has no public file {kid}.json")
    return SigningKey(kid, private_key, public.created_at)


def load_signing_identity(keys_dir: Path) -> SigningIdentity:
    """The active key set's PDF-signing key and chain; :class:`KeyStoreError` naming the fix
    when it has none (a key made before certificates existed) or they do not match."""
    kid = active_kid(keys_dir)
    if kid is None:
        raise KeyStoreError(f"no court signing key in {keys_dir}: {CREATE_HINT}")
    key_path, chain_path = keys_dir / f"{kid}{PDF_KEY}", keys_dir / f"{kid}{PDF_CHAIN}"
    try:
        key_pem, chain_pem = _read_private(key_path), chain_path.read_bytes()
    except OSError:
        raise KeyStoreError(
            f"the active key {kid} has no PDF signing certificate ({kid}{PDF_CHAIN} with "
            f"{kid}{PDF_KEY}): {CREATE_HINT} or `songda keys import`"
        ) from None
    try:
        certs.check_chain(certs.load_pem_key(key_pem), certs.load_pem_chain(chain_pem), None)
    except CertificateError as exc:
        raise KeyStoreError(f"the PDF signing certificate of {kid}: {exc}") from None
    return SigningIdentity(kid, key_pem, chain_pem)


def key_problems(keys_dir: Path) -> list[Text]:
    """What stops the service from signing (for ``songda config check``)."""
    try:
        load_signing_key(keys_dir)
        load_signing_identity(keys_dir)
    except KeyStoreError as exc:
        return [wording("court signing key: %(problem)s", problem=exc)]
    return []


def certificate_of(keys_dir: Path, kid: str) -> x509.Certificate | None:
    """The PDF-signing certificate of key set ``kid``; None for a key set without one."""
    try:
        return certs.load_pem_chain((keys_dir / f"{kid}{PDF_CHAIN}").read_bytes())[0]
    except (OSError, CertificateError):
        return None


def published_certificates(keys_dir: Path) -> dict[str, Any]:
    """The court's X.509 identity for ``/.well-known/songda-court-certificates.json``: the
    root Songda made (if any) and, per key set, the chain certifying its Ed25519 key and the
    PDF-signing chain — so a verifier can tie a checkpoint or manifest key to the same court
    root a PDF reader trusts. Public material only."""

    def text(path: Path) -> str | None:
        return path.read_text(encoding="ascii") if path.is_file() else None

    root = text(keys_dir / ROOT_CERT)
    return {
        "roots": [] if root is None else [root],
        "keys": [
            {
                "kid": key.kid,
                "key_certificate": text(keys_dir / f"{key.kid}{KEY_CERT}"),
                "pdf_signing_chain": text(keys_dir / f"{key.kid}{PDF_CHAIN}"),
            }
            for key in published_keys(keys_dir)
        ],
    }


def describe(key: PublicKey, keys_dir: Path, locale: str = SOURCE_LOCALE) -> str:
    """One line of ``songda keys list``: kid, algorithm, creation time, PDF certificate and
    standing, tab-separated; the words in ``locale`` (the operator's), the rest as stored."""
    created = key.created_at.isoformat(timespec="seconds")
    certificate = certificate_of(keys_dir, key.kid)
    pdf = (
        translate(locale, "no PDF signing certificate")
        if certificate is None
        else certs.describe(certificate)
    )
    standing = (
        ptranslate(locale, "court key", "active")
        if key.active
        else ptranslate(locale, "court key", "retired")
    )
    return f"{key.kid}\t{ALG}\t{created}\t{pdf}\t{standing}"
