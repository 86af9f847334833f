"""The court's key files (``SONGDA_KEYS_DIR``, default ``<data dir>/keys``).

One deployment, one key directory::

    keys/
      active              the kid of the key that signs now (one line)
      <kid>.json          public part: kid, alg, base64url public key, created_at
      <kid>.key           private part: PKCS#8 PEM, mode 0600, never logged or printed

``songda keys create`` adds a key and makes it the active one (rotation). Old keys stay in the
directory and stay published, so everything they signed still verifies. See
docs/decisions/0010-court-keys-and-evidence-bundles.md.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from delivery.clock import Clock, rfc3339
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
KID_RE = re.compile(r"[0-9a-f]{16}")
CREATE_HINT = "run `songda keys create`"


class KeyStoreError(Exception):
    """The key directory cannot give a usable key; the message says what to do."""


def create_key(keys_dir: Path, clock: Clock) -> PublicKey:
    """A new Ed25519 key pair, written to ``keys_dir`` and made the active key."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_key = Ed25519PrivateKey.generate()
    public_key = private_key.public_key()
    kid = key_id(public_key)
    created_at = clock.now()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: never overwrite a key; 0600 from the first byte (no window where it is readable).
    fd = os.open(keys_dir / f"{kid}.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public = {
        "kid": kid,
        "alg": ALG,
        "public_key": b64url(raw_public_bytes(public_key)),
        "created_at": rfc3339(created_at),
    }
    _write_atomically(keys_dir / f"{kid}.json", json.dumps(public, indent=2) + "\n", 0o644)
    _write_atomically(keys_dir / ACTIVE_FILE, kid + "\n", 0o644)
    return PublicKey(kid, public_key, created_at, active=True)


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
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyStoreError(
                f"{path} is readable by others: `chmod 600 {path}` (and check who read it)"
            )
        private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
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


def key_problems(keys_dir: Path) -> list[str]:
    """What stops the service from signing (for ``songda config check``)."""
    try:
        load_signing_key(keys_dir)
    except KeyStoreError as exc:
        return [f"court signing key: {exc}"]
    return []


def describe(key: PublicKey) -> str:
    created = key.created_at.isoformat(timespec="seconds")
    return f"{key.kid}\t{ALG}\t{created}\t{'active' if key.active else 'retired'}"
