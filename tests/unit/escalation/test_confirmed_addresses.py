"""CPL-INT-137: the confirmed addresses come first and the case system's own follow, each
address once; a recipient-confirmed one the form replaced is court-found; the form's consent is
express, and its refusal stands (OLR-29/30)."""

from __future__ import annotations

from delivery.domain import Contact
from delivery.vocabulary import ContactKind, ContactSource
from escalation.confirmed_addresses import (
    Consent,
    cpl_int137_consent,
    cpl_int137_contacts,
    cpl_int137_superseded,
)

CONFIRMED, FOUND = ContactSource.RECIPIENT_CONFIRMED, ContactSource.COURT_FOUND


def contact(
    kind: ContactKind, value: str, source: ContactSource, form: str | None = None
) -> Contact:
    return Contact(f"{kind}-{value}", kind, value, source, None, form)


def test_confirmed_first_then_the_requests_own_each_address_once() -> None:
    confirmed = [
        contact(ContactKind.EMAIL, "Zhang@Example.com", CONFIRMED, "form"),
        contact(ContactKind.POSTAL, "杭州市西湖区 文三路1号", CONFIRMED, "form"),
    ]
    requested = [
        contact(ContactKind.PHONE, "+8613800138000", FOUND),
        contact(ContactKind.EMAIL, "zhang@example.com ", FOUND),  # the confirmed one again
        contact(ContactKind.POSTAL, "杭州市西湖区  文三路1号", FOUND),  # spacing aside, the same
        contact(ContactKind.EMAIL, "other@example.com", CONFIRMED),
        contact(ContactKind.EMAIL, "OTHER@example.com", FOUND),
    ]
    merged = cpl_int137_contacts(confirmed, requested)
    assert [(c.value, c.source, c.confirmation_id) for c in merged] == [
        ("Zhang@Example.com", CONFIRMED, "form"),
        ("杭州市西湖区 文三路1号", CONFIRMED, "form"),
        ("+8613800138000", FOUND, None),
        # Confirmed before, replaced by the form's e-mail: the court's knowledge now.
        ("other@example.com", FOUND, None),
    ]


def test_only_a_named_replacement_supersedes() -> None:
    """A kind the form leaves empty replaces nothing; a court-found address was never the
    recipient's word; the form's own address (spelt otherwise) is not replaced by itself."""
    form = [contact(ContactKind.POSTAL, "杭州市西湖区文三路2号", CONFIRMED, "form")]
    known = [
        contact(ContactKind.POSTAL, "杭州市西湖区文三路1号", CONFIRMED),
        contact(ContactKind.POSTAL, " 杭州市西湖区文三路2号 ", CONFIRMED),
        contact(ContactKind.POSTAL, "杭州市西湖区文三路3号", FOUND),
        contact(ContactKind.EMAIL, "zhang@example.com", CONFIRMED),
    ]
    assert [c.value for c in cpl_int137_superseded(form, known)] == ["杭州市西湖区文三路1号"]
    assert cpl_int137_superseded([], known) == []


def test_the_forms_consent_is_express_and_its_refusal_stands() -> None:
    assert cpl_int137_consent(True) == Consent(True, "express")
    assert cpl_int137_consent(False) == Consent(False, None)
