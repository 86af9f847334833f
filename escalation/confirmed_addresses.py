"""CPL-INT-137 (with CPL-INT-136 and OLR-29/30): the addresses and the consent a recipient signed
in an address confirmation form hold for every later dispatch to them in the cases linked to the
form's case, until they sign another (docs/decisions/0043, 0047).

Pure: intake (delivery/services/intake.py) finds the form and writes what these return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from delivery.domain import Contact
from delivery.vocabulary import ConsentBasis, ContactKind, ContactSource


@dataclass(frozen=True)
class Consent:
    given: bool
    basis: str | None


def _same_address(kind: ContactKind, value: str) -> tuple[ContactKind, str]:
    """What makes two addresses one: e-mail domains and local parts are compared without case
    (no court mail system tells them apart), phones are E.164 already, postal lines as written
    but for surrounding and repeated spaces."""
    if kind == ContactKind.EMAIL:
        return kind, value.strip().lower()
    return kind, " ".join(value.split())


def cpl_int137_superseded(confirmed: Sequence[Contact], known: Sequence[Contact]) -> list[Contact]:
    """CPL-INT-137 ("until the recipient changes them in writing"): the recipient-confirmed
    addresses among ``known`` that a signed form replaced — of a kind the form names, at an
    address it does not. They are the court's knowledge from then on, no longer the recipient's
    word: no return there is deemed service (PM-11), no sending there serves (CPL-INT-135). A
    kind the form leaves empty replaces nothing (the recipient named no new address of it), and
    the case system's court-found addresses were never the recipient's word to withdraw
    (docs/decisions/0043, 0047)."""
    kinds = {c.kind for c in confirmed}
    named = {_same_address(c.kind, c.value) for c in confirmed}
    return [
        c
        for c in known
        if c.source == ContactSource.RECIPIENT_CONFIRMED
        and c.kind in kinds
        and _same_address(c.kind, c.value) not in named
    ]


def cpl_int137_contacts(
    confirmed: Sequence[Contact], requested: Sequence[Contact]
) -> list[Contact]:
    """CPL-INT-137: the confirmed addresses first, in the signer's order, then the case system's
    own that the form does not already name. The case system's stay (its record may rest on
    writing the form does not revoke — an address the party gave in the appeal itself — and the
    earliest effective service counts, OLR-31), as it sent them but for one thing: a
    recipient-confirmed one the form replaced is court-found (:func:`cpl_int137_superseded`)."""
    superseded = {c.id for c in cpl_int137_superseded(confirmed, requested)}
    seen = {_same_address(c.kind, c.value) for c in confirmed}
    kept = []
    for contact in requested:
        key = _same_address(contact.kind, contact.value)
        if key not in seen:
            seen.add(key)
            if contact.id in superseded:
                contact = replace(contact, source=ContactSource.COURT_FOUND)
            kept.append(contact)
    return [*confirmed, *kept]


def cpl_int137_consent(form_consent: bool) -> Consent:
    """CPL-INT-136/OLR-29: the form is the recipient's own latest word on electronic service,
    and it replaces whatever consent the request claims. Consent in it is express; a refusal in
    it stands (a contract clause or an older filing is overtaken by the signed refusal) until
    the recipient signs again or a clerk records a later consent (``record_consent``)."""
    if form_consent:
        return Consent(True, ConsentBasis.EXPRESS.value)
    return Consent(False, None)
