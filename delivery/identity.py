"""Identity numbers are stored as a keyed HMAC plus the last 4 characters, never in clear.

A plain hash of an 18-character Chinese ID number is brute-forceable (birth date and region are
guessable), so the digest is keyed with a secret derived from the deployment secret.
"""

from __future__ import annotations

import hashlib
import hmac

from delivery.vocabulary import Channel


def normalise_identity(value: str) -> str:
    """Identity numbers compare without spaces and with an upper-case check letter (X)."""
    return "".join(value.split()).upper()


def keyed_digest(secret: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under a key derived from the secret for one purpose."""
    key = hmac.new(secret.encode(), f"songda:{purpose}".encode(), hashlib.sha256).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def identity_digest(secret: str, id_number: str) -> str:
    return keyed_digest(secret, "identity", normalise_identity(id_number))


def address_digest(secret: str, address: str) -> str:
    """Binds the address an attempt used into the evidence chain without writing it there in
    clear (a phone number has too few values for a plain hash)."""
    return keyed_digest(secret, "address", address.strip().lower())


def identity_last4(id_number: str) -> str:
    return normalise_identity(id_number)[-4:]


def mask_address(channel: str, address: str) -> str:
    """Enough of an address to recognise it, not enough to harvest it. A public notice has no
    address (it serves the public; its attempt records the channel's name in its place): nothing
    to hide, and masking it only made ``*********tice`` — pages show where it was published."""
    if channel == Channel.PUBLIC_NOTICE:
        return address
    if channel == Channel.EMAIL and "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:2]}***@{domain}"
    if len(address) > 4:
        return f"{'*' * (len(address) - 4)}{address[-4:]}"
    return address
