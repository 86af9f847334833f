"""The certificate's HTML and PDF from its view model (``tracking.certificate``): rendering only.

:func:`certificate_pdf` checks the view's text against the fonts, builds the HTML (template, QR
code) *and* renders it, so the whole of a certificate's CPU work runs in the render pool's
worker process (``delivery.infra.pdf_rendering``), none of it on the event loop; the view model and
the font set are small and pickle cheaply.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from delivery.domain import LOCALES
from templates import render
from templates.certificate_words import fact_label, fact_value, reading
from templates.fonts import FontSet, check_fields
from templates.i18n import ptranslate, supported, translate
from templates.pdf import html_to_pdf, qr_data_uri
from templates.reasons import reason_text
from tracking.certificate import CertificateView

# The room left at the end for the court's visible PDF signature (width, height in mm): the
# signer (tracking.pdf_signature) finds the box by its id and draws the stamp in it.
SIGNATURE_BOX_MM = (90.0, 24.0)


def certificate_html(
    view: CertificateView, fonts: FontSet, signed_at: datetime | None = None
) -> str:
    """``signed_at``: the court's signature to come (its stamp is drawn in the box the signer's
    widget then covers); None for a preview, which is never signed."""
    stamp_time = None
    if signed_at is not None:
        stamp_time = f"{signed_at.astimezone(ZoneInfo(view.zone)):%Y-%m-%d %H:%M:%S} ({view.zone})"
    locale = view.locale
    other = next(lang for lang in LOCALES if lang != supported(locale))
    return render(
        "pdf/certificate.html",
        locale=locale,
        translate=translate,
        other=partial(ptranslate, other, "certificate"),
        fact=partial(fact_label, locale),
        fact_value=partial(fact_value, locale),
        reading=partial(reading, locale),
        reason_text=partial(reason_text, locale),
        c=view,
        fonts=fonts,
        qr=qr_data_uri(view.verify_url),
        signature_box=SIGNATURE_BOX_MM,
        stamp_time=stamp_time,
    )


def certificate_text(view: CertificateView) -> dict[str, str]:
    """Every text value of the view by its path (``recipient_name``, ``attempts[1].address``,
    ``sections[0].lines[2].value``…), so a character no font covers is named by its field."""
    return dict(_texts(view, ""))


def _texts(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _texts(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            yield from _texts(item, f"{path}[{i}]")


def certificate_pdf(
    view: CertificateView, fonts: FontSet, signed_at: datetime | None = None
) -> bytes:
    """The certificate's PDF (with the stamp of a signature made at ``signed_at``), or
    :class:`templates.fonts.MissingGlyphs` naming the fields whose characters no font covers
    (then no PDF is made: never a box instead of a name)."""
    check_fields(certificate_text(view), fonts)
    return html_to_pdf(certificate_html(view, fonts, signed_at), fonts)
