"""The address confirmation form (送达地址确认书, CPL-INT-136) as a PDF: rendering only.

Its view model is what the recipient signed: the addresses in their order, the consent given or
refused, a designated receiver, the typed name and the time. :func:`confirmation_form_pdf` checks
its text against the fonts, builds the HTML and renders it in the render pool's worker, like the
certificate (templates/certificate.py), with the same box for the court's visible signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from templates import render
from templates.certificate import SIGNATURE_BOX_MM
from templates.fonts import FontSet, check_fields
from templates.pdf import html_to_pdf


@dataclass(frozen=True)
class FormAddress:
    kind: str  # delivery.vocabulary.ContactKind
    value: str
    postcode: str | None = None


@dataclass(frozen=True)
class DesignatedReceiver:
    name: str
    phone: str | None = None
    relation: str | None = None


@dataclass(frozen=True)
class ConfirmationFormView:
    confirmation_id: str
    court: str
    case_number: str
    recipient_name: str
    locale: str
    zone: str
    confirmed_at: datetime
    addresses: tuple[FormAddress, ...]
    consent_given: bool
    signer_name: str
    # How the signer was identified before signing (the identity check's method).
    identified_by: str
    designated_receiver: DesignatedReceiver | None = None

    def texts(self) -> dict[str, str]:
        """Every text a person gave, by field, for the font check."""
        found = {"court": self.court, "recipient_name": self.recipient_name}
        found |= {f"addresses[{i}]": a.value for i, a in enumerate(self.addresses)}
        found["signer_name"] = self.signer_name
        if self.designated_receiver is not None:
            found["designated_receiver.name"] = self.designated_receiver.name
            found["designated_receiver.relation"] = self.designated_receiver.relation or ""
        return found


def _local(instant: datetime, zone: str) -> str:
    return f"{instant.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M:%S} ({zone})"


def confirmation_form_html(view: ConfirmationFormView, fonts: FontSet, signed_at: datetime) -> str:
    return render(
        "pdf/address_confirmation.html",
        locale=view.locale,
        f=view,
        fonts=fonts,
        confirmed_time=_local(view.confirmed_at, view.zone),
        stamp_time=_local(signed_at, view.zone),
        signature_box=SIGNATURE_BOX_MM,
    )


def confirmation_form_pdf(view: ConfirmationFormView, fonts: FontSet, signed_at: datetime) -> bytes:
    """The form's PDF with the stamp of the court's signature made at ``signed_at``, or
    :class:`templates.fonts.MissingGlyphs` naming the fields no font covers."""
    check_fields(view.texts(), fonts)
    return html_to_pdf(confirmation_form_html(view, fonts, signed_at), fonts)
