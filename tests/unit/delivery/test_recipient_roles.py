"""The recipient's role is one of a closed list (delivery/vocabulary.py ``RecipientRole``),
checked in one place — the dispatch parser — whichever way a dispatch comes in: the API body,
the new-dispatch form's or a CSV row's flat fields (issue 14: ``"judge"`` was accepted)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from delivery.api.case_system.dispatch_request import parse_dispatch_request
from delivery.api.staff.flat_dispatch import dispatch_body, flat_errors
from delivery.ids import new_id
from delivery.vocabulary import RecipientRole

ZONE = ZoneInfo("Asia/Shanghai")


def api_body(role: object) -> dict[str, Any]:
    return {
        "court": "杭州市西湖区人民法院",
        "case_number": "(2026)浙0106民初1234号",
        "reference": "roles-1",
        "documents": [new_id()],
        "recipient": {
            "name": "张三",
            "role": role,
            "id_number": "11010119900307123X",
            "e_service_consent": {"given": False},
        },
    }


@pytest.mark.parametrize("role", list(RecipientRole))
def test_every_role_of_the_list_is_accepted(role: RecipientRole) -> None:
    request, errors = parse_dispatch_request(api_body(role.value), "zh-CN")
    assert errors == []
    assert request is not None and request.recipient_role == role


@pytest.mark.parametrize("role", ["judge", "Defendant", "被告", "defendant-1"])
def test_a_role_outside_the_list_is_refused_naming_the_list(role: str) -> None:
    request, errors = parse_dispatch_request(api_body(role), "zh-CN")
    assert request is None
    # The API's problem shows field and message (validation_problem drops the msgid kept for
    # pages); the message names the list.
    assert [(e["field"], e["message"]) for e in errors] == [
        ("recipient.role", "must be one of " + ", ".join(r.value for r in RecipientRole))
    ]


def test_the_form_and_a_csv_row_are_refused_by_the_same_rule() -> None:
    fields = {
        "reference": "row-2",
        "case_number": "(2026)浙0106民初1234号",
        "recipient_name": "张三",
        "recipient_role": "judge",
        "id_number": "11010119900307123X",
        "consent": "no",
    }
    body, flat = dispatch_body(fields, "杭州市西湖区人民法院", [new_id()], ZONE)
    assert flat == []
    request, errors = parse_dispatch_request(body, "zh-CN")
    assert request is None
    assert [e["field"] for e in flat_errors(errors)] == ["recipient_role"]
