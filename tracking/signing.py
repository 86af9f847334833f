"""The court's signing key: Ed25519 signatures, key ids, and the published key set.

Pure crypto and data shapes, no files: :mod:`delivery.infra.keys` keeps the key files, and
:mod:`tracking.verify` checks signatures with the published keys alone.

- A key id (``kid``) is the first 16 hex digits of the SHA-256 of the raw 32-byte public key,
  so a verifier can tell which key signed without trusting anything but the key itself.
- Signatures and public keys travel as base64url without padding (RFC 4648 §5, as in JOSE).
- What is signed is always bytes: RFC 8785 canonical JSON for structured statements (a chain
  checkpoint), or the exact bytes of a file (an evidence bundle's ``manifest.json``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from delivery.clock import rfc3339
from tracking.chain import canonical

ALG = "Ed25519"


class KeyFormatError(ValueError):
    """A key or key set that cannot be read; the message says what is wrong."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; :class:`ValueError` on anything else."""
    if not isinstance(text, str) or not text or any(c in text for c in "+/ \n"):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public_bytes(public_key)).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    """The active court key: signs checkpoints and evidence-bundle manifests."""

    kid: str
    private_key: Ed25519PrivateKey = field(repr=False)
    created_at: datetime

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def sign(self, data: bytes) -> str:
        """The base64url Ed25519 signature of ``data``."""
        return b64url(self.private_key.sign(data))

    def sign_statement(self, statement: Mapping[str, Any]) -> str:
        """Sign the RFC 8785 canonical JSON of ``statement``."""
        return self.sign(canonical(dict(statement)))


@dataclass(frozen=True)
class PublicKey:
    """One published court key, as listed at ``/.well-known/songda-keys.json``."""

    kid: str
    public_key: Ed25519PublicKey
    created_at: datetime
    active: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": ALG,
            "public_key": b64url(raw_public_bytes(self.public_key)),
            "created_at": rfc3339(self.created_at),
            "active": self.active,
        }

    def verify(self, signature: str, data: bytes) -> bool:
        try:
            self.public_key.verify(b64url_decode(signature), data)
        except (InvalidSignature, ValueError):
            return False
        return True


def key_set_json(keys: list[PublicKey]) -> dict[str, Any]:
    """The document served at ``/.well-known/songda-keys.json``."""
    return {"keys": [k.as_json() for k in keys]}


def checkpoint_statement(dispatch_id: str, seq: int, head: str) -> dict[str, Any]:
    """What a ``chain_checkpoint`` event's signature covers (as RFC 8785 JSON)."""
    return {"dispatch_id": dispatch_id, "seq": seq, "head": head}


def checkpoint_data(key: SigningKey, dispatch_id: str, seq: int, head: str) -> dict[str, Any]:
    """The data of a ``chain_checkpoint`` event pinning ``head`` (the event at ``seq``)."""
    return {
        "head": head,
        "seq": seq,
        "key_id": key.kid,
        "alg": ALG,
        "signature": key.sign_statement(checkpoint_statement(dispatch_id, seq, head)),
    }


def parse_key_set(document: Any) -> dict[str, PublicKey]:
    """The published keys by kid, from a parsed ``songda-keys.json``; :class:`KeyFormatError`
    when it is not one. A key whose kid does not match its public key is refused."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeyFormatError('not a key set: expected {"keys": [...]}')
    keys: dict[str, PublicKey] = {}
    for i, entry in enumerate(document["keys"]):
        if not isinstance(entry, dict):
            raise KeyFormatError(f"keys[{i}] is not an object")
        if entry.get("alg") != ALG:
            raise KeyFormatError(f"keys[{i}]: alg must be {ALG}")
        try:
            raw = b64url_decode(str(entry.get("public_key", "")))
            public_key = Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            raise KeyFormatError(f"keys[{i}]: public_key is not a raw Ed25519 key") from None
        kid = entry.get("kid")
        if kid != key_id(public_key):
            raise KeyFormatError(f"keys[{i}]: kid {kid!r} does not match its public key")
        try:
            created_at = datetime.fromisoformat(str(entry.get("created_at")))
        except ValueError:
            raise KeyFormatError(f"keys[{i}]: created_at is not a time") from None
        keys[kid] = PublicKey(kid, public_key, created_at, bool(entry.get("active")))
    return keys
