"""The public verification page's address for a dispatch (``/verify/{dispatch_id}.{tag}``).

Printed as a QR code on paper (the postal return card, later the proof of service): the tag is a
keyed digest of the dispatch id, so the address cannot be guessed from an id alone. The page
itself arrives with its own issue; it checks the tag with :func:`check_tag`.
"""

from __future__ import annotations

import hashlib
import hmac

TAG_CHARS = 20


def _tag(secret: str, dispatch_id: str) -> str:
    key = hmac.new(secret.encode(), b"songda:verify", hashlib.sha256).digest()
    return hmac.new(key, dispatch_id.encode(), hashlib.sha256).hexdigest()[:TAG_CHARS]


def verification_path(secret: str, dispatch_id: str) -> str:
    return f"/verify/{dispatch_id}.{_tag(secret, dispatch_id)}"


def check_tag(secret: str, dispatch_id: str, tag: str) -> bool:
    return hmac.compare_digest(_tag(secret, dispatch_id), tag)
