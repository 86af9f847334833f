"""The stored certificate PDF: rendered and signed in the render pool's worker; only the wait
for the TSA's token (B-T) happens here, on the event loop (decision 0052).

The court's key material reaches the worker process as pickled PEM bytes
(:class:`tracking.court_certificates.SigningIdentity`), loaded once at start with the other
keys (``Context.signing_identity``), not as a keys-dir path read there: the permission check
and a missing certificate then fail at start, not at the first service, and every process
signs with the same key set until it is restarted after a rotation, as for the Ed25519 key
(docs/decisions/0020-pades-and-court-certificates.md). Previews are not signed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import aiohttp
from pyhanko.sign.timestamps import HTTPTimeStamper

from delivery.config import Settings
from delivery.infra.pdf_rendering import render_in_pool
from templates.certificate import SIGNATURE_BOX_MM, certificate_pdf
from templates.confirmation_form import ConfirmationFormView, confirmation_form_pdf
from templates.fonts import FontSet
from tracking.certificate import CertificateView
from tracking.court_certificates import SigningIdentity
from tracking.pdf_signature import (
    Appearance,
    AwaitingToken,
    signature_time_stamp,
    signed_awaiting_token,
    signed_pdf,
    with_time_stamp,
)

if TYPE_CHECKING:
    from pyhanko.sign.timestamps import TimeStamper


class CourtTimeStamper(HTTPTimeStamper):
    """pyHanko's RFC 3161 client with one HTTP session for the life of the process: without
    one it opens a session per token, and each built an SSL context (~17 ms on the event
    loop). Made inside the running event loop; close it on shutdown (:meth:`close`)."""

    def __init__(self, url: str, timeout: int) -> None:
        self.session = aiohttp.ClientSession()
        super().__init__(url, timeout=timeout, session=self.session)

    async def close(self) -> None:
        await self.session.close()


def certificate_timestamper(settings: Settings) -> CourtTimeStamper | None:
    """The configured TSA (SONGDA_TSA_URL) as pyHanko's RFC 3161 client, for PAdES-B-T; None
    without one (B-B, and ``config check`` warns that proofs carry no third-party time)."""
    if settings.tsa_url is None:
        return None
    return CourtTimeStamper(settings.tsa_url, timeout=max(1, round(settings.tsa_timeout)))


FORM_REASON = "送达地址确认书 / Address confirmation form"
V = TypeVar("V", CertificateView, ConfirmationFormView)
# A document's PDF from its view, with the stamp drawn for the signing time (module-level
# functions: they cross the pool by name).
Draw = Callable[[V, FontSet, datetime], bytes]


@dataclass(frozen=True)
class CertificateSignature:
    """Who signs, when (the injected clock's time), and the TSA for PAdES-B-T if any."""

    identity: SigningIdentity
    signed_at: datetime
    timestamper: TimeStamper | None = None


async def signed_certificate_pdf(
    view: CertificateView, signature: CertificateSignature, fonts: FontSet
) -> bytes:
    """The certificate's PDF with the court's visible PAdES signature."""
    appearance = Appearance(
        court=view.court, signed_at=signature.signed_at, size_mm=SIGNATURE_BOX_MM
    )
    return await _court_signed(certificate_pdf, view, appearance, signature, fonts)


async def signed_form_pdf(
    view: ConfirmationFormView, signature: CertificateSignature, fonts: FontSet
) -> bytes:
    """The address confirmation form's PDF, signed and timestamped as the certificate is."""
    appearance = Appearance(
        court=view.court,
        signed_at=signature.signed_at,
        size_mm=SIGNATURE_BOX_MM,
        reason=FORM_REASON,
    )
    return await _court_signed(confirmation_form_pdf, view, appearance, signature, fonts)


async def _court_signed(
    draw: Draw[V],
    view: V,
    appearance: Appearance,
    signature: CertificateSignature,
    fonts: FontSet,
) -> bytes:
    """Drawn and signed in the render pool — the CMS is CPU work too (~10 ms of asn1crypto a
    certificate), which on the event loop delayed the requests and sends sharing it. With a
    TSA, the pool's worker hands back the CMS without the token, the token is awaited here
    (waiting for the TSA holds no render worker, decision 0020), and a second pool call adds
    it and writes the CMS into the PDF."""
    identity, timestamper = signature.identity, signature.timestamper
    if timestamper is None:
        return await render_in_pool(drawn_and_signed, draw, view, appearance, identity, fonts)
    awaiting = await render_in_pool(drawn_awaiting_token, draw, view, appearance, identity, fonts)
    token = await signature_time_stamp(awaiting, timestamper)
    return await render_in_pool(with_time_stamp, awaiting, token)


def drawn_and_signed(
    draw: Draw[V], view: V, appearance: Appearance, identity: SigningIdentity, fonts: FontSet
) -> bytes:
    """In the pool's worker: the document drawn, with its stamp, and signed (PAdES-B-B)."""
    return signed_pdf(draw(view, fonts, appearance.signed_at), identity, appearance)


def drawn_awaiting_token(
    draw: Draw[V], view: V, appearance: Appearance, identity: SigningIdentity, fonts: FontSet
) -> AwaitingToken:
    """In the pool's worker: the document drawn and signed, its CMS awaiting the TSA's token."""
    return signed_awaiting_token(draw(view, fonts, appearance.signed_at), identity, appearance)
