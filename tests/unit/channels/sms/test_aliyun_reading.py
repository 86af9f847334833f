"""Reading Alibaba Cloud SMS's answers and pushes (docs/decisions/0044)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.sms.aliyun import classify, international, national, provider_time, report_of
from delivery.channel_api import SendOutcome
from delivery.services.sms_health import outcome_of


@pytest.mark.parametrize(
    ("code", "status", "outcome", "unknown"),
    [
        ("isv.MOBILE_NUMBER_ILLEGAL", 200, SendOutcome.PERMANENT, False),
        ("isv.BUSINESS_LIMIT_CONTROL", 200, SendOutcome.TRANSIENT, False),
        ("Throttling.User", 400, SendOutcome.TRANSIENT, False),
        ("isv.SMS_TEMPLATE_ILLEGAL", 200, SendOutcome.UNAVAILABLE, False),
        ("isv.AMOUNT_NOT_ENOUGH", 200, SendOutcome.UNAVAILABLE, False),
        ("InvalidAccessKeyId.NotFound", 404, SendOutcome.UNAVAILABLE, False),
        # Alibaba's own trouble, or no word at all: the message may be out.
        ("isp.SYSTEM_ERROR", 200, SendOutcome.TRANSIENT, True),
        ("ServiceUnavailable", 503, SendOutcome.TRANSIENT, True),
        ("isv.AMOUNT_NOT_ENOUGH", 502, SendOutcome.TRANSIENT, True),
        (None, 200, SendOutcome.TRANSIENT, True),
        ("None", 500, SendOutcome.TRANSIENT, True),
    ],
)
def test_codes_are_classified(
    code: str | None, status: int, outcome: SendOutcome, unknown: bool
) -> None:
    result = classify(code, f"{code}", status)
    assert (result.outcome, result.unknown) == (outcome, unknown)


def test_flow_control_for_a_number_is_the_numbers_limit_not_the_providers_fault() -> None:
    limited = classify("isv.BUSINESS_LIMIT_CONTROL", "too many to this number")
    assert limited.number_at_fault and outcome_of(limited) == "refused_number"
    assert outcome_of(classify("isv.AMOUNT_NOT_ENOUGH", "balance")) == "failed"


def test_numbers_between_e164_and_alibabas_form() -> None:
    assert national("+8613800138000") == "13800138000"
    assert national("+14155550100") is None
    assert international("13800138000") == "+8613800138000"


def test_a_report_is_dated_in_beijing_time_and_keeps_no_phone_number() -> None:
    report = report_of(
        {
            "phone_number": "13800138000",
            "send_time": "2026-12-07 14:00:00",
            "report_time": "2026-12-07 14:00:05",
            "success": True,
            "err_code": "DELIVERED",
            "biz_id": "12345^0",
            "out_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        }
    )
    assert report.delivered is True and report.biz_id == "12345^0"
    assert report.reported_at == datetime(2026, 12, 7, 6, 0, 5, tzinfo=UTC)
    assert "phone_number" not in report.raw
    assert provider_time("yesterday") is None
