"""The certificate's HTML and PDF from its view model (``tracking.certificate``): rendering only.

:func:`certificate_pdf` builds the HTML (template, QR code) *and* renders it, so the whole of a
certificate's CPU work runs in the render pool's worker process (``delivery.pdf_rendering``),
none of it on the event loop; the view model is small and pickles cheaply.
"""

from __future__ import annotations

from templates import render
from templates.pdf import FONT_FAMILY, html_to_pdf, qr_data_uri
from tracking.certificate import CertificateView

# The room left at the end for the court's visible PDF signature (width, height in mm): the
# signer (tracking.pdf_signature) finds the box by its id and draws the stamp in it.
SIGNATURE_BOX_MM = (90.0, 24.0)


def certificate_html(view: CertificateView) -> str:
    return render(
        "pdf/certificate.html",
        c=view,
        font_family=FONT_FAMILY,
        qr=qr_data_uri(view.verify_url),
        signature_box=SIGNATURE_BOX_MM,
    )


def certificate_pdf(view: CertificateView) -> bytes:
    return html_to_pdf(certificate_html(view))
