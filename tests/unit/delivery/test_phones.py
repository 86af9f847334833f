"""Phone numbers as clerks paste them from Excel and case systems send them: one reading
(delivery/phones.py) for the API, the new-dispatch form, CSV batches and add_contact."""

from __future__ import annotations

from typing import Any

import pytest

from delivery.addresses import check_address
from delivery.api.case_system.dispatch_request import parse_dispatch_request
from delivery.domain import ContactKind
from delivery.ids import new_id
from delivery.phones import LANDLINE, NOT_A_NUMBER, NOT_MOBILE, NOT_VALID, parse_phone


def body_with_phone(number: str) -> dict[str, Any]:
    return {
        "court": "杭州市西湖区人民法院",
        "case_number": "(2026)浙0106民初1234号",
        "reference": "case-system-42",
        "documents": [new_id()],
        "recipient": {
            "name": "张三",
            "role": "defendant",
            "id_number": "11010119900307123X",
            "e_service_consent": {"given": True, "basis": "express"},
            "phones": [{"number": number, "source": "court_found"}],
        },
    }


@pytest.mark.parametrize(
    "text",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        " 138 1234 5678 ",
        "+8613812345678",
        "+86 138 1234 5678",
        "008613812345678",
        "0086 138-1234-5678",
        "86 13812345678",
        "(+86) 138 1234 5678",
        "１３８１２３４５６７８",  # full-width digits from a Chinese input method
    ],
)
def test_mainland_mobile_becomes_e164(text: str) -> None:
    assert parse_phone(text).e164 == "+8613812345678"
    assert parse_phone(text).problem is None


@pytest.mark.parametrize(
    ("text", "e164"),
    [("+44 7911 123456", "+447911123456"), ("+1 650 253 0000", "+16502530000")],
)
def test_foreign_mobiles_are_kept_in_e164(text: str, e164: str) -> None:
    assert parse_phone(text) == parse_phone(e164)
    assert parse_phone(text).e164 == e164


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("010-12345678", LANDLINE),  # Beijing
        ("0571 8765 4321", LANDLINE),  # Hangzhou
        ("+86 21 1234 5678", LANDLINE),  # Shanghai
        ("400 810 8888", NOT_MOBILE),  # a service number
        ("12345", NOT_VALID),
        ("1381234567", NOT_VALID),  # one digit short
        ("+8613800138000123", NOT_VALID),
        ("call me", NOT_A_NUMBER),
        ("", NOT_A_NUMBER),
        ("1" * 60, NOT_A_NUMBER),
    ],
)
def test_numbers_that_cannot_take_sms_are_refused_with_the_reason(text: str, problem: str) -> None:
    assert parse_phone(text).e164 is None
    assert parse_phone(text).problem == problem


def test_add_contact_stores_the_e164_form() -> None:
    assert check_address(ContactKind.PHONE, "138-1234-5678") == ("+8613812345678", None)
    assert check_address(ContactKind.PHONE, "010-12345678") == ("010-12345678", LANDLINE)
    assert check_address(ContactKind.EMAIL, "a@example.com") == ("a@example.com", None)


def test_the_api_stores_a_pasted_number_as_e164() -> None:
    request, errors = parse_dispatch_request(body_with_phone("138 0013 8000"), "zh-CN")
    assert errors == []
    assert request is not None
    phones = [c.value for c in request.contacts if c.kind == ContactKind.PHONE]
    assert phones == ["+8613800138000"]


def test_the_api_names_the_field_of_a_landline() -> None:
    _request, errors = parse_dispatch_request(body_with_phone("0571-87654321"), "zh-CN")
    assert errors == [{"field": "recipient.phones[0].number", "message": LANDLINE}]
