"""Recipient links: signed, expiring, bound to one attempt and one issuance.

A token carries the attempt id, the instant the link was issued and its expiry, in a compact
binary form signed with a key derived from the deployment secret. Re-issuing a link changes the
issuance instant, so the old token stops working even though its signature is still valid.

An address confirmation link (送达地址确认书, CPL-INT-136) has the same form, bound to a dispatch
instead of an attempt and signed with a key of its own purpose: neither kind of token opens the
other's pages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

from ulid import ULID


class BadToken(Exception):
    """Tampered, malformed or foreign: reveal nothing about why."""


class ExpiredToken(Exception):
    """Genuine but past its expiry."""


@dataclass(frozen=True)
class LinkClaims:
    attempt_id: str
    issued_at: datetime
    expires_at: datetime


def _key(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), f"songda:{purpose}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# 16-byte ULID, issuance in microseconds, expiry in seconds: 32 bytes, 43 characters; with a
# 128-bit signature the token is 66 characters, short enough for a 3-part Chinese SMS.
_LAYOUT = struct.Struct(">16sQQ")
SIGNATURE_BYTES = 16


LINK, CONFIRMATION = "link", "confirm"


def _sign(secret: str, body: bytes, purpose: str = LINK) -> bytes:
    return hmac.new(_key(secret, purpose), body, hashlib.sha256).digest()[:SIGNATURE_BYTES]


def issue_token(secret: str, claims: LinkClaims, purpose: str = LINK) -> str:
    body = _LAYOUT.pack(
        ULID.from_str(claims.attempt_id).bytes,
        int(claims.issued_at.timestamp() * 1_000_000),
        int(claims.expires_at.timestamp()),
    )
    return f"{_b64(body)}.{_b64(_sign(secret, body, purpose))}"


def read_token(secret: str, token: str, now: datetime, purpose: str = LINK) -> LinkClaims:
    """The claims of a genuine token; :class:`BadToken` or :class:`ExpiredToken` otherwise.
    ``purpose`` :data:`CONFIRMATION`: an address confirmation link, whose claims name the
    dispatch (``attempt_id`` holds its id)."""
    try:
        body_text, signature_text = token.split(".")
        body, signature = _unb64(body_text), _unb64(signature_text)
    except ValueError as exc:
        raise BadToken from exc
    if _b64(body) != body_text or _b64(signature) != signature_text:
        raise BadToken  # one genuine token has exactly one spelling
    if not hmac.compare_digest(signature, _sign(secret, body, purpose)):
        raise BadToken
    try:
        attempt, issued_us, expires_s = _LAYOUT.unpack(body)
        claims = LinkClaims(
            attempt_id=str(ULID.from_bytes(attempt)),
            issued_at=datetime.fromtimestamp(issued_us / 1_000_000, UTC),
            expires_at=datetime.fromtimestamp(expires_s, UTC),
        )
    except (ValueError, struct.error, OverflowError) as exc:
        raise BadToken from exc
    if now >= claims.expires_at:
        raise ExpiredToken
    return claims


def same_issuance(a: datetime | None, b: datetime) -> bool:
    """Whether a stored issuance instant is the one a token carries (to the microsecond)."""
    return a is not None and int(a.timestamp() * 1_000_000) == int(b.timestamp() * 1_000_000)


def session_value(
    secret: str, attempt_id: str, issued_at: datetime, purpose: str = "recipient-session"
) -> str:
    """The cookie that remembers a passed identity check for one link issuance."""
    message = f"{attempt_id}:{int(issued_at.timestamp() * 1_000_000)}".encode()
    return _b64(hmac.new(_key(secret, purpose), message, hashlib.sha256).digest())
