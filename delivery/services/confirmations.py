"""A new dispatch takes the recipient's signed address confirmation of its case group
(CPL-INT-136/137): the newest form the same person (by the keyed digest of their identity
number, never by name) signed in any case linked to the dispatch's, in the same court.

Called by intake inside the creating transaction, so the dispatch is written with the confirmed
addresses and consent and the evidence that says why (docs/decisions/0043, 0047).
"""

from __future__ import annotations

from dataclasses import dataclass

from delivery.clock import rfc3339
from delivery.domain import Contact, Dispatch
from delivery.ids import new_id
from delivery.storage.address_confirmations import AddressConfirmation, latest_confirmation
from delivery.storage.case_groups import cases_grouped_with
from delivery.storage.engine import Connection
from delivery.vocabulary import ContactSource
from escalation.confirmed_addresses import (
    cpl_int137_consent,
    cpl_int137_contacts,
    cpl_int137_superseded,
)


@dataclass(frozen=True)
class Applied:
    """What a dispatch took from a confirmation, as its evidence records it."""

    confirmation: AddressConfirmation
    group_cases: tuple[str, ...]
    contact_ids: tuple[str, ...]
    requested_consent: dict[str, object]
    requested_contacts_kept: int
    # The case system's recipient-confirmed contacts the form replaced, now court-found.
    superseded_contact_ids: tuple[str, ...]

    def evidence(self) -> dict[str, object]:
        c = self.confirmation
        return {
            "rule": "CPL-INT-137",
            "confirmation_id": c.id,
            "form_sha256": c.form_sha256,
            "confirmed_at": rfc3339(c.confirmed_at),
            "confirmed_in_case": c.case_number,
            "confirmed_in_dispatch": c.dispatch_id,
            "group_cases": list(self.group_cases),
            "contact_ids": list(self.contact_ids),
            "consent_given": c.consent_given,
            "requested_consent": self.requested_consent,
            "requested_contacts_kept": self.requested_contacts_kept,
            "superseded_contact_ids": list(self.superseded_contact_ids),
        }


async def apply_confirmation(conn: Connection, dispatch: Dispatch, id_hmac: str) -> Applied | None:
    """Put the confirmed addresses first among ``dispatch``'s contacts and the form's consent
    on it, when the recipient signed a form in the case group; what was applied, or None."""
    found = await latest_confirmation(
        conn, court=dispatch.court, case_number=dispatch.case_number, id_hmac=id_hmac
    )
    if found is None:
        return None
    group = await cases_grouped_with(conn, dispatch.court, dispatch.case_number)
    confirmed = [
        Contact(new_id(), a.kind, a.value, ContactSource.RECIPIENT_CONFIRMED, a.postcode, found.id)
        for a in found.addresses
    ]
    requested = dispatch.contacts
    superseded = {c.id for c in cpl_int137_superseded(confirmed, requested)}
    dispatch.contacts = cpl_int137_contacts(confirmed, requested)
    requested_consent: dict[str, object] = {
        "given": dispatch.consent_given,
        "basis": dispatch.consent_basis,
    }
    consent = cpl_int137_consent(found.consent_given)
    dispatch.consent_given, dispatch.consent_basis = consent.given, consent.basis
    return Applied(
        confirmation=found,
        group_cases=tuple(group),
        contact_ids=tuple(c.id for c in confirmed),
        requested_consent=requested_consent,
        requested_contacts_kept=len(dispatch.contacts) - len(confirmed),
        superseded_contact_ids=tuple(c.id for c in dispatch.contacts if c.id in superseded),
    )
