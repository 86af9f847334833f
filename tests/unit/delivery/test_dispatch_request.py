"""Validation of POST /api/v1/dispatches bodies: every problem named with its path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from delivery.api.case_system.dispatch_request import parse_dispatch_request
from delivery.domain import ContactKind, ContactSource
from delivery.ids import new_id
from delivery.services.intake import ContactRequest

DOC_1, DOC_2 = new_id(), new_id()
Body = dict[str, Any]


def valid_body() -> Body:
    return {
        "court": "杭州市西湖区人民法院",
        "case_number": "(2026)浙0106民初1234号",
        "reference": "case-system-42",
        "documents": [DOC_1, DOC_2],
        "hearing_at": "2026-06-01T09:30:00+08:00",
        "recipient": {
            "name": "张三",
            "role": "defendant",
            "id_number": "11010119900307123X",
            "e_service_consent": {"given": True, "basis": "express"},
            "emails": [{"address": "zhang@example.com", "source": "recipient_confirmed"}],
            "phones": [{"number": "+8613800138000", "source": "court_found"}],
            "postal_addresses": [
                {"lines": "杭州市西湖区 1 号", "postcode": "310000", "source": "court_found"}
            ],
        },
    }


def errors_of(change: Callable[[Body], object]) -> dict[str, str]:
    body = valid_body()
    change(body)
    request, errors = parse_dispatch_request(body, "zh-CN")
    assert request is None
    assert errors
    return {e["field"]: e["message"] for e in errors}


def recipient(body: Body) -> Body:
    result: Body = body["recipient"]
    return result


def test_valid_body_parses() -> None:
    body = valid_body()
    request, errors = parse_dispatch_request(body, "en")
    assert errors == []
    assert request is not None
    assert request.court == "杭州市西湖区人民法院"
    assert request.case_number == "(2026)浙0106民初1234号"
    assert request.reference == "case-system-42"
    assert request.policy == "cn-civil"
    assert request.locale == "en"
    assert request.document_ids == (DOC_1, DOC_2)
    assert (request.recipient_name, request.recipient_role) == ("张三", "defendant")
    assert request.id_number == "11010119900307123X"
    assert (request.consent_given, request.consent_basis) == (True, "express")
    assert request.hearing_at == datetime(2026, 6, 1, 1, 30, tzinfo=UTC)
    assert request.contacts == (
        ContactRequest(ContactKind.EMAIL, "zhang@example.com", ContactSource.RECIPIENT_CONFIRMED),
        ContactRequest(ContactKind.PHONE, "+8613800138000", ContactSource.COURT_FOUND),
        ContactRequest(
            ContactKind.POSTAL, "杭州市西湖区 1 号", ContactSource.COURT_FOUND, "310000"
        ),
    )
    assert request.body == body


def test_minimal_body_parses() -> None:
    body = valid_body()
    del body["hearing_at"]
    for name in ("emails", "phones", "postal_addresses"):
        del body["recipient"][name]
    body["recipient"]["e_service_consent"] = {"given": False}
    body["locale"] = "zh-CN"
    request, errors = parse_dispatch_request(body, "en")
    assert errors == []
    assert request is not None
    assert request.contacts == ()
    assert request.hearing_at is None
    assert (request.consent_given, request.consent_basis) == (False, None)
    assert request.locale == "zh-CN"


def test_text_is_trimmed() -> None:
    body = valid_body()
    body["case_number"] = "  (2026)浙0106民初1234号 "
    request, _ = parse_dispatch_request(body, "zh-CN")
    assert request is not None
    assert request.case_number == "(2026)浙0106民初1234号"


CASES: list[tuple[str, Callable[[Body], object], str, str]] = [
    # unknown fields, with their path
    ("unknown-top", lambda b: b.update(foo=1), "foo", "unknown field"),
    ("unknown-recipient", lambda b: recipient(b).update(foo=1), "recipient.foo", "unknown field"),
    (
        "unknown-email",
        lambda b: recipient(b)["emails"][0].update(bar=1),
        "recipient.emails[0].bar",
        "unknown field",
    ),
    (
        "unknown-postal",
        lambda b: recipient(b)["postal_addresses"][0].update(zip="1"),
        "recipient.postal_addresses[0].zip",
        "unknown field",
    ),
    (
        "unknown-consent",
        lambda b: recipient(b)["e_service_consent"].update(when="now"),
        "recipient.e_service_consent.when",
        "unknown field",
    ),
    # missing required fields
    ("missing-court", lambda b: b.pop("court"), "court", "required"),
    ("missing-case", lambda b: b.pop("case_number"), "case_number", "required"),
    ("missing-reference", lambda b: b.pop("reference"), "reference", "required"),
    ("missing-recipient", lambda b: b.pop("recipient"), "recipient", "required"),
    ("missing-name", lambda b: recipient(b).pop("name"), "recipient.name", "required"),
    ("missing-role", lambda b: recipient(b).pop("role"), "recipient.role", "required"),
    ("missing-id", lambda b: recipient(b).pop("id_number"), "recipient.id_number", "required"),
    (
        "missing-consent",
        lambda b: recipient(b).pop("e_service_consent"),
        "recipient.e_service_consent",
        "required",
    ),
    (
        "missing-address",
        lambda b: recipient(b)["emails"][0].pop("address"),
        "recipient.emails[0].address",
        "required",
    ),
    ("blank-court", lambda b: b.update(court="  "), "court", "non-empty string"),
    ("number-court", lambda b: b.update(court=5), "court", "non-empty string"),
    ("long-reference", lambda b: b.update(reference="r" * 201), "reference", "at most 200"),
    # contacts
    (
        "bad-email",
        lambda b: recipient(b)["emails"][0].update(address="not-an-email"),
        "recipient.emails[0].address",
        "e-mail address",
    ),
    (
        "phone-landline",
        lambda b: recipient(b)["phones"][0].update(number="0571-87654321"),
        "recipient.phones[0].number",
        "cannot receive SMS",
    ),
    (
        "phone-letters",
        lambda b: recipient(b)["phones"][0].update(number="call me"),
        "recipient.phones[0].number",
        "must be a phone number",
    ),
    (
        "phone-too-long",
        lambda b: recipient(b)["phones"][0].update(number="+8613800138000123"),
        "recipient.phones[0].number",
        "not a valid phone number",
    ),
    (
        "bad-source",
        lambda b: recipient(b)["emails"][0].update(source="me"),
        "recipient.emails[0].source",
        "recipient_confirmed or court_found",
    ),
    (
        "missing-source",
        lambda b: recipient(b)["postal_addresses"][0].pop("source"),
        "recipient.postal_addresses[0].source",
        "recipient_confirmed or court_found",
    ),
    (
        "emails-not-array",
        lambda b: recipient(b).update(emails="zhang@example.com"),
        "recipient.emails",
        "must be an array",
    ),
    (
        "email-not-object",
        lambda b: recipient(b).update(emails=["zhang@example.com"]),
        "recipient.emails[0]",
        "must be an object",
    ),
    (
        "too-many-phones",
        lambda b: recipient(b).update(phones=[{"number": "+8613800138000"}] * 21),
        "recipient.phones",
        "at most 20",
    ),
    (
        "bad-id-number",
        lambda b: recipient(b).update(id_number="1101-0119"),
        "recipient.id_number",
        "letters and digits",
    ),
    # consent (OLR-29/30)
    (
        "consent-without-basis",
        lambda b: recipient(b)["e_service_consent"].pop("basis"),
        "recipient.e_service_consent.basis",
        "must be one of express, contract, filing, tacit",
    ),
    (
        "consent-unknown-basis",
        lambda b: recipient(b)["e_service_consent"].update(basis="verbal"),
        "recipient.e_service_consent.basis",
        "must be one of",
    ),
    (
        "no-consent-with-basis",
        lambda b: recipient(b)["e_service_consent"].update(given=False),
        "recipient.e_service_consent.basis",
        "must be absent",
    ),
    (
        "consent-not-bool",
        lambda b: recipient(b)["e_service_consent"].update(given="yes"),
        "recipient.e_service_consent.given",
        "true or false",
    ),
    # hearing time, documents, policy, locale
    (
        "hearing-without-offset",
        lambda b: b.update(hearing_at="2026-06-01T09:30:00"),
        "hearing_at",
        "with an offset",
    ),
    ("hearing-not-a-time", lambda b: b.update(hearing_at="next week"), "hearing_at", "RFC 3339"),
    ("hearing-number", lambda b: b.update(hearing_at=1780000000), "hearing_at", "RFC 3339"),
    ("documents-empty", lambda b: b.update(documents=[]), "documents", "non-empty array"),
    ("documents-missing", lambda b: b.pop("documents"), "documents", "non-empty array"),
    ("documents-not-list", lambda b: b.update(documents=DOC_1), "documents", "non-empty array"),
    ("document-not-id", lambda b: b.update(documents=["doc-1"]), "documents", "document id"),
    ("document-number", lambda b: b.update(documents=[DOC_1, 7]), "documents", "document id"),
    ("document-repeated", lambda b: b.update(documents=[DOC_1, DOC_1]), "documents", "repeat"),
    ("unknown-policy", lambda b: b.update(policy="no-such"), "policy", "unknown policy"),
    ("bad-locale", lambda b: b.update(locale="fr"), "locale", "zh-CN or en"),
]


@pytest.mark.parametrize(
    ("change", "field", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_body_names_the_field(
    change: Callable[[Body], object], field: str, message: str
) -> None:
    errors = errors_of(change)
    assert field in errors, errors
    assert message in errors[field]


@pytest.mark.parametrize("body", [[], "text", None, 42], ids=repr)
def test_body_must_be_an_object(body: object) -> None:
    assert parse_dispatch_request(body, "zh-CN") == (
        None,
        [{"field": "", "message": "the body must be a JSON object"}],
    )


def test_all_problems_are_reported_together() -> None:
    def many(body: Body) -> None:
        body.update(foo=1, documents=[], policy="no-such")
        recipient(body)["emails"][0].update(address="bad")
        recipient(body)["phones"][0].update(number="123")
        recipient(body).pop("name")

    errors = errors_of(many)
    assert set(errors) == {
        "foo",
        "documents",
        "policy",
        "recipient.emails[0].address",
        "recipient.phones[0].number",
        "recipient.name",
    }


def test_body_is_not_modified() -> None:
    body = valid_body()
    before = copy.deepcopy(body)
    parse_dispatch_request(body, "zh-CN")
    assert body == before
