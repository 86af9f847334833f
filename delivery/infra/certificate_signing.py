"""The stored certificate PDF: rendered and prepared in the render pool's worker, signed here.

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
from typing import TYPE_CHECKING

import aiohttp
from pyhanko.sign.timestamps import HTTPTimeStamper

from delivery.config import Settings
from delivery.infra.pdf_rendering import render_in_pool
from templates.certificate import SIGNATURE_BOX_MM, certificate_pdf
from templates.confirmation_form import ConfirmationFormView, confirmation_form_pdf
from templates.fonts import FontSet
from tracking.certificate import CertificateView
from tracking.court_certificates import SigningIdentity
from tracking.pdf_signature import Appearance, PreparedPdf, finish_signature, prepare_pdf

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


@dataclass(frozen=True)
class CertificateSignature:
    """Who signs, when (the injected clock's time), and the TSA for PAdES-B-T if any."""

    identity: SigningIdentity
    signed_at: datetime
    timestamper: TimeStamper | None = None


def prepared_certificate_pdf(
    view: CertificateView,
    identity: SigningIdentity,
    signed_at: datetime,
    with_token: bool,
    fonts: FontSet,
) -> PreparedPdf:
    """The certificate's PDF with its stamp, ready for the court's signature (runs in the
    pool: the render and pyHanko's preparation are the CPU work)."""
    appearance = Appearance(court=view.court, signed_at=signed_at, size_mm=SIGNATURE_BOX_MM)
    return prepare_pdf(
        certificate_pdf(view, fonts, signed_at), identity, appearance, with_token=with_token
    )


def prepared_form_pdf(
    view: ConfirmationFormView,
    identity: SigningIdentity,
    signed_at: datetime,
    with_token: bool,
    fonts: FontSet,
) -> PreparedPdf:
    """The address confirmation form's PDF with its stamp, ready for the court's signature."""
    appearance = Appearance(
        court=view.court, signed_at=signed_at, size_mm=SIGNATURE_BOX_MM, reason=FORM_REASON
    )
    return prepare_pdf(
        confirmation_form_pdf(view, fonts, signed_at), identity, appearance, with_token=with_token
    )


async def signed_certificate_pdf(
    view: CertificateView, signature: CertificateSignature, fonts: FontSet
) -> bytes:
    """The certificate's PDF with the court's visible PAdES signature: rendered and prepared
    in the render pool, signed (and timestamped, B-T) here, on the event loop — waiting for
    the TSA holds no render worker (decision 0020)."""
    return await _court_signed(prepared_certificate_pdf, view, signature, fonts)


async def signed_form_pdf(
    view: ConfirmationFormView, signature: CertificateSignature, fonts: FontSet
) -> bytes:
    """The address confirmation form's PDF, signed and timestamped as the certificate is."""
    return await _court_signed(prepared_form_pdf, view, signature, fonts)


async def _court_signed(
    prepare: Callable[..., PreparedPdf],
    view: object,
    signature: CertificateSignature,
    fonts: FontSet,
) -> bytes:
    prepared = await render_in_pool(
        prepare,
        view,
        signature.identity,
        signature.signed_at,
        signature.timestamper is not None,
        fonts,
    )
    return await finish_signature(
        prepared, signature.identity, signature.signed_at, signature.timestamper
    )
