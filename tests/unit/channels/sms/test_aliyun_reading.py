"""Reading Alibaba Cloud SMS's answers and pushes (docs/decisions/0044)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.sms.aliyun import classify, international, national, provider_time, report_of
from delivery.channel_api import SendOutcome


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("isv.MOBILE_NUMBER_ILLEGAL", SendOutcome.PERMANENT),
        ("isv.BUSINESS_LIMIT_CONTROL", SendOutcome.TRANSIENT),
        ("isp.SYSTEM_ERROR", SendOutcome.TRANSIENT),
        ("isv.SMS_TEMPLATE_ILLEGAL", SendOutcome.UNAVAILABLE),
        ("isv.AMOUNT_NOT_ENOUGH", SendOutcome.UNAVAILABLE),
        (None, SendOutcome.UNAVAILABLE),
    ],
)
def test_codes_are_classified(code: str | None, outcome: SendOutcome) -> None:
    result = classify(code, f"{code}")
    assert result.outcome == outcome and not result.unknown


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
