"""Identity numbers are stored as a keyed HMAC plus the last 4 characters, never in clear.

A plain hash of an 18-character Chinese ID number is brute-forceable (birth date and region are
guessable), so the digest is keyed with a secret derived from the deployment secret.
"""

from __future__ import annotations

import hashlib
import hmac


def normalise_identity(value: str) -> str:
    """Identity numbers compare without spaces and with an upper-case check letter (X)."""
    return "".join(value.split()).upper()


def identity_digest(secret: str, id_number: str) -> str:
    key = hmac.new(secret.encode(), b"songda:identity", hashlib.sha256).digest()
    return hmac.new(key, normalise_identity(id_number).encode(), hashlib.sha256).hexdigest()


def identity_last4(id_number: str) -> str:
    return normalise_identity(id_number)[-4:]
