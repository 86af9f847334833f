"""PDF rendering (WeasyPrint) and QR codes, synchronous: call through
``delivery.pdf_rendering.render_pdf``, which keeps it off the event loop.

Only ``data:`` URIs may be fetched while rendering (images are embedded, e.g. QR codes): file://
and network URLs are refused, so a template value can never make the renderer read a local file
or call out. Text uses the CJK font named in :data:`FONT_FAMILY` (missing glyphs fail silently
in WeasyPrint, so the font is named, not left to fallback).
"""

from __future__ import annotations

import base64
import io
import logging

import qrcode
from weasyprint import HTML
from weasyprint.urls import URLFetcher

# WeasyPrint logs every layout step at INFO: keep its warnings, not the progress chatter.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

FONT_FAMILY = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif'


def html_to_pdf(html: str) -> bytes:
    """Render a self-contained HTML document to PDF bytes (CPU-bound; not on the event loop)."""
    fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False)
    pdf: bytes = HTML(string=html, url_fetcher=fetcher, base_url=None).write_pdf()
    return pdf


def qr_data_uri(text: str, *, box_size: int = 6, border: int = 2) -> str:
    """A PNG QR code of ``text`` as a ``data:`` URI, to embed in HTML."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=border
    )
    code.add_data(text)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
