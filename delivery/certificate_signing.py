"""The stored certificate PDF: rendered *and* signed in one call of the render pool's worker.

The court's key material reaches the worker process as pickled PEM bytes
(:class:`tracking.court_certificates.SigningIdentity`), loaded once at start with the other
keys (``Context.signing_identity``), not as a keys-dir path read there: the permission check
and a missing certificate then fail at start, not at the first service, and every process
signs with the same key set until it is restarted after a rotation, as for the Ed25519 key
(docs/decisions/0020-pades-and-court-certificates.md). Previews are not signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from delivery.config import Settings
from templates.certificate import SIGNATURE_BOX_MM, certificate_pdf
from templates.fonts import FontSet
from tracking.certificate import CertificateView
from tracking.court_certificates import SigningIdentity

if TYPE_CHECKING:
    from pyhanko.sign.timestamps import TimeStamper


def certificate_timestamper(settings: Settings) -> TimeStamper | None:
    """The configured TSA (SONGDA_TSA_URL) as pyHanko's RFC 3161 client, for PAdES-B-T; None
    without one (B-B, and ``config check`` warns that proofs carry no third-party time)."""
    if settings.tsa_url is None:
        return None
    from pyhanko.sign.timestamps import HTTPTimeStamper

    return HTTPTimeStamper(settings.tsa_url, timeout=max(1, round(settings.tsa_timeout)))


@dataclass(frozen=True)
class CertificateSignature:
    """Who signs, when (the injected clock's time), and the TSA for PAdES-B-T if any."""

    identity: SigningIdentity
    signed_at: datetime
    timestamper: TimeStamper | None = None


def signed_certificate_pdf(
    view: CertificateView, signature: CertificateSignature, fonts: FontSet
) -> bytes:
    """The certificate's PDF with the court's visible PAdES signature (runs in the pool)."""
    from tracking.pdf_signature import Appearance, sign_pdf

    appearance = Appearance(
        court=view.court,
        signed_at=signature.signed_at,
        zone=view.zone,
        chain_head=view.chain_head,
        size_mm=SIGNATURE_BOX_MM,
    )
    return sign_pdf(
        certificate_pdf(view, fonts),
        signature.identity,
        appearance,
        timestamper=signature.timestamper,
    )
