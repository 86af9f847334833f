"""The public verification page's addresses: a dispatch's (``/verify/{dispatch_id}.{tag}``)
and a certificate's (``/verify/{dispatch_id}?h=<hash>``).

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


def certificate_url(public_base_url: str, dispatch_id: str, chain_head: str) -> str:
    """The public page that verifies a certificate: the target of its QR code, and what the
    API gives the case system. ``chain_head`` is the hash the certificate pins (its
    ``dispatch_served`` event), not the dispatch's later head."""
    return f"{public_base_url.rstrip('/')}/verify/{dispatch_id}?h={chain_head}"


def check_tag(secret: str, dispatch_id: str, tag: str) -> bool:
    return hmac.compare_digest(_tag(secret, dispatch_id), tag)
