"""The report's pure computation: which outcomes count, how they group, every figure."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from delivery.services.report_figures import Tally, nearest_rank
from delivery.services.reports import (
    Group,
    OutcomeRow,
    ReportError,
    ReportRequest,
    compute,
    group_label,
    parse_request,
)

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


def served(n: int, channel: str, hours: float, *, step: int = 0, **more: object) -> OutcomeRow:
    served_at = T0 + timedelta(hours=hours)
    values: dict[str, object] = {
        "dispatch_id": f"d{n}",
        "court": "A",
        "outcome": "dispatch_served",
        "recorded_at": served_at + timedelta(minutes=5),
        "created_at": T0,
        "channel": channel,
        "served_at": served_at,
        "served_step": step,
        "first_step": 0,
        "last_attempt_channel": channel,
        **more,
    }
    return OutcomeRow(**values)


def ended(
    n: int, outcome: str, at: datetime, last_channel: str | None, **more: object
) -> OutcomeRow:
    values: dict[str, object] = {
        "dispatch_id": f"d{n}",
        "court": "A",
        "outcome": f"dispatch_{outcome}",
        "recorded_at": at,
        "created_at": T0,
        "first_step": 0,
        "last_attempt_channel": last_channel,
        **more,
    }
    return OutcomeRow(**values)


MARCH = ReportRequest(date(2026, 3, 1), date(2026, 3, 31), "channel")


def test_every_figure_of_a_small_population() -> None:
    rows = [
        served(1, "email", 1),
        served(2, "email", 3),
        served(3, "sms", 2),
        served(4, "postal", 50, step=1),
        served(5, "in_person", 10, step=2),
        ended(6, "failed", T0 + timedelta(days=3), "postal"),
        ended(7, "cancelled", T0 + timedelta(days=1), "email"),
        ended(8, "failed", T0 + timedelta(days=2), None),
    ]
    report = compute(rows, MARCH, ZONE)
    t = report.totals
    assert (t.served, t.failed, t.cancelled, t.served_electronically, t.served_first_try) == (
        5,
        2,
        1,
        3,
        3,
    )
    assert t.e_service_usage_rate == 0.6
    assert t.success_rate == round(5 / 7, 4) == 0.7143
    assert t.first_try_rate == 0.6
    # hours sorted: 1, 2, 3, 10, 50 → median rank ⌈2.5⌉ = 3 → 3; p90 rank ⌈4.5⌉ = 5 → 50
    assert (t.median_hours, t.p90_hours) == (3.0, 50.0)
    by_key = {g.key: g.figures for g in report.groups}
    assert [g.key for g in report.groups] == ["email", "sms", "postal", "in_person", "none"]
    email = by_key["email"]
    assert (email.served, email.cancelled, email.success_rate) == (2, 1, 1.0)
    assert (email.median_hours, email.p90_hours) == (1.0, 3.0)
    postal = by_key["postal"]
    assert (postal.served, postal.failed, postal.success_rate, postal.first_try_rate) == (
        1,
        1,
        0.5,
        0.0,
    )
    none = by_key["none"]
    assert (none.served, none.failed, none.e_service_usage_rate, none.success_rate) == (
        0,
        1,
        None,
        0.0,
    )
    assert none.median_hours is None


def test_reversed_outcomes_and_outcomes_outside_the_period_do_not_count() -> None:
    rows = [
        ended(1, "unserved", T0, None),
        ended(2, "resumed", T0, None),
        # 2026-03-31 23:30 in Shanghai is still March; 2026-03-31 16:30 UTC is April 1 00:30 there.
        ended(3, "failed", datetime(2026, 3, 31, 15, 30, tzinfo=UTC), "email"),
        ended(4, "failed", datetime(2026, 3, 31, 16, 30, tzinfo=UTC), "email"),
        # served on Feb 28 (Shanghai) though recorded in March: counts on its date of service
        served(5, "email", -40, recorded_at=T0),
    ]
    report = compute(rows, MARCH, ZONE)
    assert (report.totals.served, report.totals.failed) == (0, 1)
    assert report.totals.success_rate == 0.0
    assert report.totals.e_service_usage_rate is None


def test_weeks_months_courts_and_clerks() -> None:
    rows = [
        served(1, "email", 1, owner_id="c1"),  # Mon 2 March
        served(2, "sms", 24 * 7 + 1, court="B", owner_id="c2"),  # Mon 9 March
        ended(3, "failed", T0 + timedelta(days=6, hours=14), "postal"),  # Sun 8 March, Shanghai
    ]
    weekly = compute(rows, ReportRequest(date(2026, 3, 1), date(2026, 3, 31), "week"), ZONE)
    assert [(g.key, g.label, g.figures.served, g.figures.failed) for g in weekly.groups] == [
        ("2026-W10", "2026-03-02", 1, 1),
        ("2026-W11", "2026-03-09", 1, 0),
    ]
    monthly = compute(rows, ReportRequest(date(2026, 1, 1), date(2026, 12, 31), "month"), ZONE)
    assert [(g.key, g.figures.served) for g in monthly.groups] == [("2026-03", 2)]
    courts = compute(rows, ReportRequest(date(2026, 3, 1), date(2026, 3, 31), "court"), ZONE)
    assert [(g.key, g.figures.served, g.figures.failed) for g in courts.groups] == [
        ("A", 1, 1),
        ("B", 1, 0),
    ]
    clerks = compute(
        rows,
        ReportRequest(date(2026, 3, 1), date(2026, 3, 31), "clerk"),
        ZONE,
        {"c1": "王书记员", "c2": "李书记员"},
    )
    assert [(g.key, g.label) for g in clerks.groups] == [
        ("c2", "李书记员"),
        ("c1", "王书记员"),
        ("unassigned", "unassigned"),
    ]


def test_nearest_rank_percentiles() -> None:
    assert nearest_rank([], 50) is None
    assert nearest_rank([7.0], 90) == 7.0
    values = [float(v) for v in range(1, 11)]
    assert (nearest_rank(values, 50), nearest_rank(values, 90)) == (5.0, 9.0)
    assert nearest_rank(values[:4], 50) == 2.0  # the lower middle: nearest rank, no averaging


def test_parameters_name_the_bad_fields() -> None:
    assert parse_request({"from": "2026-01-01", "to": "2026-01-31"}) == ReportRequest(
        date(2026, 1, 1), date(2026, 1, 31), "channel"
    )
    with pytest.raises(ReportError) as caught:
        parse_request({"from": "2026-1-1", "to": "20260131", "group_by": "colour"})
    assert [e["field"] for e in caught.value.errors] == ["from", "to", "group_by"]
    with pytest.raises(ReportError) as caught:
        parse_request({"from": "2026-02-01", "to": "2026-01-31", "court": "X"}, ["A"])
    assert [e["field"] for e in caught.value.errors] == ["to", "court"]


@pytest.mark.parametrize(
    ("locale", "group_by", "key", "shown"),
    [
        ("zh-CN", "channel", "email", "电子邮件"),
        ("zh-CN", "channel", "none", "未发出"),
        ("zh-CN", "clerk", "unassigned", "未分配"),
        ("en", "channel", "in_person", "in person"),
        ("zh-CN", "court", "杭州市西湖区人民法院", "杭州市西湖区人民法院"),
    ],
)
def test_a_group_reads_as_its_label(locale: str, group_by: str, key: str, shown: str) -> None:
    group = Group(key, key, Tally().figures())
    assert group_label(locale, group_by, group) == shown
