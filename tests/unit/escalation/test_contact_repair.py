"""ICP-16: a repaired contact serves only if the party used it in the last 3 months — calendar
months back from today in the court's zone, the shorter month's last day where needed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from escalation.contact_repair import earliest_activity, repair_refusal

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("today", "earliest"),
    [
        (date(2026, 12, 7), date(2026, 9, 7)),
        (date(2026, 5, 31), date(2026, 2, 28)),  # February is shorter
        (date(2028, 5, 31), date(2028, 2, 29)),  # a leap year
        (date(2027, 2, 15), date(2026, 11, 15)),  # across the year
    ],
)
def test_three_calendar_months_back(today: date, earliest: date) -> None:
    assert earliest_activity(today) == earliest


def test_the_court_zone_decides_today() -> None:
    # 2026-12-06 17:00 UTC is already 2026-12-07 in Shanghai: 09-07 counts, 09-06 does not.
    now = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
    assert repair_refusal(date(2026, 9, 7), now=now, zone=SHANGHAI) is None
    stale = repair_refusal(date(2026, 9, 6), now=now, zone=SHANGHAI)
    assert stale is not None and "ICP-16" in str(stale) and "2026-09-07" in str(stale)
    assert repair_refusal(date(2026, 12, 7), now=now, zone=SHANGHAI) is None
    future = repair_refusal(date(2026, 12, 8), now=now, zone=SHANGHAI)
    assert future is not None and "future" in str(future)
